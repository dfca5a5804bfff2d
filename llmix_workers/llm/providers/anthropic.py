"""Anthropic Messages: ``POST {base}/v1/messages`` with ``x-api-key`` and ``anthropic-version``.

System messages are taken out of ``messages`` and joined into ``system``; ``max_tokens`` is
required, so ``llm.anthropic_max_tokens`` stands in when the request has no
``maxOutputTokens``. ``enableThinking`` turns on extended thinking with
``llm.anthropic_thinking_budget_tokens`` (and drops ``temperature``/``topK``, which Anthropic
refuses with it). ``seed``, the penalties and ``responseFormat`` have no Anthropic equivalent
and are not sent. In the answer, thinking blocks come back as a leading ``<think>…</think>``
and ``tool_use`` blocks as OpenAI-shaped ``tool_calls``, so every provider reads the same.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmix_workers.llm.providers.base import Endpoint, HTTPProvider
from llmix_workers.llm.providers.context import merged_options
from llmix_workers.llm.providers.http_errors import malformed
from llmix_workers.llm.request import LLMRequest, LLMResult, Usage

ENDPOINT = Endpoint("https://api.anthropic.com")
FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class AnthropicClient(HTTPProvider):
    """The Anthropic Messages API."""

    @classmethod
    def endpoint_defaults(cls, name: str) -> Endpoint:
        return ENDPOINT

    def url(self, base_url: str) -> str:
        return f"{base_url.removesuffix('/v1')}/v1/messages"

    def headers(self, key: str | None) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "anthropic-version": self.context.settings.anthropic_version,
        }
        if key is not None:
            headers["x-api-key"] = key
        return headers

    def body(self, request: LLMRequest) -> dict[str, Any]:
        settings = self.context.settings
        system = [_text(m.get("content")) for m in request.messages if m["role"] == "system"]
        thinking = request.enable_thinking is True
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [m for m in request.messages if m["role"] != "system"],
            "max_tokens": request.max_output_tokens or settings.anthropic_max_tokens,
        }
        optional = {
            "system": "\n".join(system) if system else None,
            "temperature": None if thinking else request.temperature,
            "top_p": request.top_p,
            "top_k": None if thinking else request.top_k,
            "stop_sequences": request.stop_sequences,
        }
        body.update((name, value) for name, value in optional.items() if value is not None)
        if thinking:
            budget = settings.anthropic_thinking_budget_tokens
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        body.update(merged_options(self.name, request.provider_options))
        return body

    def parse(self, request: LLMRequest, data: Any, headers: dict[str, str]) -> LLMResult:
        blocks = data.get("content") if isinstance(data, dict) else None
        if not isinstance(blocks, list):
            raise malformed(self.name, "no content blocks")
        thinking, text, tool_calls = [], [], []
        for block in blocks:
            kind = block.get("type")
            if kind == "text":
                text.append(block["text"])
            elif kind == "thinking":
                thinking.append(block["thinking"])
            elif kind == "tool_use":
                arguments = orjson.dumps(block.get("input") or {}).decode()
                tool_calls.append(
                    {
                        "id": block["id"],
                        "type": "function",
                        "function": {"name": block["name"], "arguments": arguments},
                    }
                )
        content = "".join(text)
        if thinking:
            content = f"<think>{''.join(thinking)}</think>{content}"
        usage = data.get("usage") or {}
        input_tokens, output_tokens = (
            usage.get("input_tokens") or 0,
            usage.get("output_tokens") or 0,
        )
        stop_reason = data.get("stop_reason")
        return LLMResult(
            content=content,
            model=str(data.get("model") or request.model),
            provider=self.name,
            usage=Usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                total_tokens=input_tokens + output_tokens,
            ),
            headers=headers,
            tool_calls=tool_calls or None,
            finish_reason="tool_calls"
            if tool_calls
            else FINISH_REASONS.get(stop_reason, stop_reason),
        )


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")
