"""OpenAI-compatible chat completions: OpenAI, OpenRouter, Together, DeepInfra, vLLM, Ollama.

``POST {base}/chat/completions`` with a Bearer key. Request fields map as LLMix maps them:
``maxOutputTokens`` → ``max_tokens`` (``max_completion_tokens`` for OpenAI reasoning models,
which also lose ``temperature`` and ``top_p``), ``stopSequences`` → ``stop``,
``responseFormat`` → ``response_format``, ``topK`` → ``top_k`` (not sent to OpenAI),
``enableThinking`` → ``chat_template_kwargs.enable_thinking`` for vLLM; ``providerOptions`` are
merged last (see :func:`~llmix_workers.llm.providers.context.merged_options`).
"""

from __future__ import annotations

import re
from typing import Any

from llmix_workers.llm.providers.base import Endpoint, HTTPProvider
from llmix_workers.llm.providers.context import merged_options
from llmix_workers.llm.providers.http_errors import malformed
from llmix_workers.llm.request import LLMRequest, LLMResult, Usage

ENDPOINTS: dict[str, Endpoint] = {
    "openai": Endpoint("https://api.openai.com/v1"),
    "openrouter": Endpoint("https://openrouter.ai/api/v1"),
    "together": Endpoint("https://api.together.xyz/v1"),
    "deepinfra": Endpoint("https://api.deepinfra.com/v1/openai"),
    "vllm": Endpoint("http://127.0.0.1:8000/v1", key_required=False),
    "ollama": Endpoint("http://127.0.0.1:11434/v1", key_required=False),
}
#: A provider registered under another name needs ``llm.base_urls.<name>`` or a ``baseUrl``.
UNKNOWN_ENDPOINT = Endpoint("", key_required=False)

_REASONING = re.compile(r"^(o\d|gpt-5|codex-|computer-use)")


def is_reasoning_model(model: str) -> bool:
    """True for OpenAI reasoning models: ``o<n>…``, ``gpt-5…``, ``codex-…``, ``computer-use…``."""
    return _REASONING.match(model.lower()) is not None


class OpenAICompatibleClient(HTTPProvider):
    """Chat completions for any OpenAI-compatible server, picked by provider name and URL."""

    @classmethod
    def endpoint_defaults(cls, name: str) -> Endpoint:
        return ENDPOINTS.get(name, UNKNOWN_ENDPOINT)

    def url(self, base_url: str) -> str:
        return f"{base_url}/chat/completions"

    def headers(self, key: str | None) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if key is not None:
            headers["authorization"] = f"Bearer {key}"
        return headers

    def body(self, request: LLMRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model, "messages": request.messages}
        reasoning = self.name == "openai" and is_reasoning_model(request.model)
        optional = {
            "max_completion_tokens" if reasoning else "max_tokens": request.max_output_tokens,
            "temperature": None if reasoning else request.temperature,
            "top_p": None if reasoning else request.top_p,
            "top_k": None if self.name == "openai" else request.top_k,
            "seed": request.seed,
            "stop": request.stop_sequences,
            "presence_penalty": request.presence_penalty,
            "frequency_penalty": request.frequency_penalty,
            "response_format": request.response_format,
        }
        body.update((name, value) for name, value in optional.items() if value is not None)
        if self.name == "vllm" and request.enable_thinking is not None:
            body["chat_template_kwargs"] = {"enable_thinking": request.enable_thinking}
        body.update(merged_options(self.name, request.provider_options))
        return body

    def parse(self, request: LLMRequest, data: Any, headers: dict[str, str]) -> LLMResult:
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise malformed(self.name, "no choices")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise malformed(self.name, "no message in the first choice")
        content = _text(message.get("content"))
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if isinstance(reasoning, str) and reasoning and "<think>" not in content:
            content = f"<think>{reasoning}</think>{content}"
        usage = data.get("usage") or {}
        prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
        tool_calls = message.get("tool_calls")
        return LLMResult(
            content=content,
            model=str(data.get("model") or request.model),
            provider=self.name,
            usage=Usage(
                input_tokens=prompt,
                output_tokens=completion,
                total_tokens=usage.get("total_tokens") or prompt + completion,
            ),
            headers=headers,
            tool_calls=tool_calls if isinstance(tool_calls, list) and tool_calls else None,
            finish_reason=choices[0].get("finish_reason"),
        )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""
