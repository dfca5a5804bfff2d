"""What the stub says: deterministic bodies in the OpenAI and Anthropic formats.

The answer is derived from the request digest (model + messages), so the same request always
gets the same text, and different requests different texts. Token counts are word counts.
A thinking block appears when the request asks for thinking (OpenAI-compatible:
``chat_template_kwargs.enable_thinking``; Anthropic: ``thinking.type == "enabled"``) or a
message holds ``[[stub:think]]``. A tool call appears when the request lists ``tools`` (and
``tool_choice`` is not ``"none"``) or a message holds ``[[stub:tool]]``. A traced call's answer
ends with ``[stub call N]``: unique, and traceable to the call that produced it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from llmix_workers.testing.stub.faults import THINK_MARKER, TOOL_MARKER

OPENAI = "openai"
ANTHROPIC = "anthropic"


def request_digest(model: str, messages: list[Any]) -> str:
    """16 hex digits identifying a request by model and messages (the system prompt included).

    For the Anthropic API, ``messages`` are ``[{"role": "system", "content": system}]`` followed
    by the request's messages, so both APIs give the same digest for the same conversation.
    """
    data = orjson.dumps({"model": model, "messages": messages}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()[:16]


def conversation(api: str, body: dict[str, Any]) -> list[Any]:
    """The messages of a request body, the Anthropic ``system`` put back in front."""
    messages = list(body.get("messages") or [])
    system = body.get("system")
    if api == ANTHROPIC and system:
        messages.insert(0, {"role": "system", "content": system})
    return messages


def text_of(messages: list[Any]) -> str:
    """Every text of every message, joined by newlines."""
    parts: list[str] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


#: How a traced answer names its call (``call_of`` reads it back).
CALL_MARK = re.compile(r"\[stub call (\d+)\]")


def call_of(text: str | None) -> int | None:
    """The call number a traced answer carries, or ``None``."""
    found = CALL_MARK.search(text or "")
    return int(found.group(1)) if found else None


def answer(api: str, body: dict[str, Any], call: int = 0) -> dict[str, Any]:
    """The success body for a request body of ``api``; ``call`` > 0 marks it with that number."""
    messages = conversation(api, body)
    model = str(body.get("model", "stub-model"))
    digest = request_digest(model, messages)
    prompt = text_of(messages)
    text = f"Stub answer {digest} from {model} to {len(messages)} message(s)."
    if call:
        text += f" [stub call {call}]"
    thinking = _wants_thinking(api, body, prompt)
    tool = _tool_name(api, body, prompt)
    think_text = f"Thinking about request {digest}." if thinking else None
    usage_in = len(prompt.split())
    usage_out = len(text.split()) + len((think_text or "").split())
    if api == ANTHROPIC:
        return _anthropic(model, digest, text, think_text, tool, usage_in, usage_out)
    return _openai(model, digest, text, think_text, tool, usage_in, usage_out)


def charged_tokens(api: str, body: dict[str, Any]) -> int:
    """The input + output tokens the answer to ``body`` reports (what a token limit charges)."""
    usage: dict[str, int] = answer(api, body)["usage"]
    return sum(count for name, count in usage.items() if name != "total_tokens")


def error_body(api: str, status: int, message: str) -> dict[str, Any]:
    """An error body as the API sends it."""
    kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}
    if api == ANTHROPIC:
        return {
            "type": "error",
            "error": {"type": kind.get(status, "api_error"), "message": message},
        }
    return {"error": {"message": message, "type": kind.get(status, "server_error"), "code": status}}


def _wants_thinking(api: str, body: dict[str, Any], prompt: str) -> bool:
    if THINK_MARKER in prompt:
        return True
    if api == ANTHROPIC:
        thinking = body.get("thinking")
        return isinstance(thinking, dict) and thinking.get("type") == "enabled"
    template = body.get("chat_template_kwargs")
    return isinstance(template, dict) and template.get("enable_thinking") is True


def _tool_name(api: str, body: dict[str, Any], prompt: str) -> str | None:
    tools = body.get("tools")
    if body.get("tool_choice") == "none":
        return None
    if isinstance(tools, list) and tools and isinstance(tools[0], dict):
        first = tools[0]
        function = first.get("function") if api == OPENAI else first
        name = function.get("name") if isinstance(function, dict) else None
        return str(name or "stub_tool")
    return "stub_tool" if TOOL_MARKER in prompt else None


def _openai(
    model: str, digest: str, text: str, think: str | None, tool: str | None, n_in: int, n_out: int
) -> dict[str, Any]:
    content = f"<think>{think}</think>{text}" if think else text
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool:
        arguments = orjson.dumps({"query": digest}).decode()
        message["tool_calls"] = [
            {
                "id": f"call_{digest}",
                "type": "function",
                "function": {"name": tool, "arguments": arguments},
            }
        ]
        message["content"] = None
    return {
        "id": f"chatcmpl-{digest}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool else "stop"}
        ],
        "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out},
    }


def _anthropic(
    model: str, digest: str, text: str, think: str | None, tool: str | None, n_in: int, n_out: int
) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    if think:
        blocks.append({"type": "thinking", "thinking": think, "signature": f"sig-{digest}"})
    blocks.append({"type": "text", "text": text})
    if tool:
        blocks.append(
            {"type": "tool_use", "id": f"toolu_{digest}", "name": tool, "input": {"query": digest}}
        )
    return {
        "id": f"msg_{digest}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": "tool_use" if tool else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": n_in, "output_tokens": n_out},
    }
