from __future__ import annotations

from typing import Any

import pytest

from llmix_workers.errors import InvalidRequest
from llmix_workers.llm.request import LLMRequest, LLMResult
from tests.llm_support import load_fixture

KEY_VECTORS: dict[str, Any] = load_fixture("cache-key-vectors.json")
HELLO = [{"role": "user", "content": "Hello"}]


def test_camel_and_snake_case_build_the_same_request() -> None:
    camel = LLMRequest.model_validate(
        {"provider": "openai", "model": "m", "messages": HELLO, "maxOutputTokens": 5, "topP": 0.5}
    )
    snake = LLMRequest(provider="openai", model="m", messages=HELLO, max_output_tokens=5, top_p=0.5)
    assert camel == snake
    assert snake.wire() == {
        "provider": "openai",
        "model": "m",
        "messages": HELLO,
        "maxOutputTokens": 5,
        "topP": 0.5,
    }


def test_messages_are_kept_exactly_for_openai_tool_turns() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "user", "content": [{"type": "text", "text": "thanks"}]},
    ]
    request = LLMRequest(provider="openai", model="m", messages=messages)
    assert request.wire()["messages"] == messages


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"temperature": 7}, "temperature"),
        ({"maxOutputTokens": "100"}, "maxOutputTokens"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        ({"messages": []}, "messages"),
        ({"provider": "Open AI"}, "provider"),
        ({"apiKey": "sk-nope"}, "apiKey"),
        ({"topP": float("nan")}, "topP"),
    ],
)
def test_invalid_payload_names_the_field(change: dict[str, Any], field: str) -> None:
    payload = {"provider": "openai", "model": "m", "messages": HELLO, **change}
    with pytest.raises(InvalidRequest, match=field.replace("[", r"\[")) as raised:
        LLMRequest.from_payload(payload)
    assert not raised.value.retryable
    assert "sk-nope" not in str(raised.value)


def test_wire_round_trips() -> None:
    request = LLMRequest(
        provider="anthropic",
        model="m",
        messages=HELLO,
        stop_sequences=["END"],
        enable_thinking=True,
    )
    assert LLMRequest.from_payload(request.wire()) == request
    assert request.wire()["stopSequences"] == ["END"]


def test_result_is_frozen_and_keeps_raw_content() -> None:
    result = LLMResult(content="<think>x</think>y", model="m", provider="p")
    assert result.content == "<think>x</think>y"
    with pytest.raises(ValueError, match="frozen"):
        result.content = "y"  # type: ignore[misc]


def test_an_unprintable_field_name_keeps_the_error_on_one_line() -> None:
    payload = {"provider": "openai", "model": "m", "messages": HELLO, "\n": 1, "": 2}
    with pytest.raises(InvalidRequest) as caught:
        LLMRequest.from_payload(payload)
    message = str(caught.value)
    assert "\n" not in message
    assert "'\\n': Extra inputs are not permitted" in message
    assert "'': Extra inputs are not permitted" in message
