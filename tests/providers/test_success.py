"""Both APIs answer through the real HTTP path: content, usage, headers, thinking, tools."""

from __future__ import annotations

from typing import Any

import pytest

from llmix_workers.llm.request import LLMRequest
from llmix_workers.llm.thinking import strip_thinking
from llmix_workers.testing.stub import StubProvider, key_fingerprint, request_digest
from tests.llm_support import SECRET_KEY
from tests.providers.conftest import ClientFactory

CONVERSATION = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "What is the capital of France?"},
]
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


def ask(provider: str, **fields: Any) -> LLMRequest:
    return LLMRequest.from_payload(
        {"provider": provider, "model": f"{provider}-model", "messages": CONVERSATION, **fields}
    )


def test_openai_chat_completion(stub: StubProvider, make_client: ClientFactory) -> None:
    result = make_client().complete(ask("openai", temperature=0.2, maxOutputTokens=50))
    digest = request_digest("openai-model", CONVERSATION)
    assert result.content == f"Stub answer {digest} from openai-model to 2 message(s)."
    assert result.provider == "openai"
    assert result.model == "openai-model"
    assert result.finish_reason == "stop"
    assert result.usage.input_tokens == 8
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens > 8
    assert result.headers["content-type"] == "application/json"
    assert result.tool_calls is None
    calls = stub.calls()
    assert calls["by_path"] == {"/chat/completions": 1}
    assert calls["by_key"] == {key_fingerprint(SECRET_KEY): 1}
    assert stub.requests()[0]["body"]["max_tokens"] == 50


def test_anthropic_messages(stub: StubProvider, make_client: ClientFactory) -> None:
    result = make_client().complete(ask("anthropic", stopSequences=["END"]))
    digest = request_digest("anthropic-model", CONVERSATION)
    assert result.content == f"Stub answer {digest} from anthropic-model to 2 message(s)."
    assert result.finish_reason == "stop"
    assert result.usage.input_tokens == 8
    body = stub.requests()[0]["body"]
    assert body["system"] == "Answer briefly."
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["max_tokens"] == 4096
    assert body["stop_sequences"] == ["END"]
    assert stub.calls()["by_path"] == {"/v1/messages": 1}


def test_same_request_same_answer_different_request_different_answer(
    make_client: ClientFactory,
) -> None:
    client = make_client()
    first, again = client.complete(ask("openai")), client.complete(ask("openai"))
    other = client.complete(ask("openai", messages=[{"role": "user", "content": "Hi"}]))
    assert first.content == again.content != other.content


def test_reasoning_model_body_over_http(stub: StubProvider, make_client: ClientFactory) -> None:
    make_client().complete(
        LLMRequest(
            provider="openai",
            model="o3-mini",
            messages=CONVERSATION,
            temperature=1,
            max_output_tokens=10,
        )
    )
    body = stub.requests()[0]["body"]
    assert body["max_completion_tokens"] == 10
    assert "temperature" not in body and "max_tokens" not in body


@pytest.mark.parametrize("provider", ["vllm", "anthropic"])
def test_enable_thinking_gives_a_think_block_that_strips_off(
    provider: str, make_client: ClientFactory
) -> None:
    result = make_client().complete(ask(provider, enableThinking=True))
    assert result.content.startswith("<think>Thinking about request ")
    content, thinking = strip_thinking(result.content)
    assert content.startswith("Stub answer ")
    assert thinking is not None and thinking.startswith("Thinking about request ")


def test_think_marker_works_for_plain_openai(make_client: ClientFactory) -> None:
    result = make_client().complete(
        ask("openai", messages=[{"role": "user", "content": "hmm [[stub:think]]"}])
    )
    assert strip_thinking(result.content)[1] is not None


@pytest.mark.parametrize(
    ("provider", "tools"),
    [
        ("openai", [TOOL]),
        ("anthropic", [{"name": "lookup", "input_schema": {"type": "object"}}]),
    ],
)
def test_tools_in_provider_options_give_a_tool_call(
    provider: str, tools: list[dict[str, Any]], stub: StubProvider, make_client: ClientFactory
) -> None:
    result = make_client().complete(ask(provider, providerOptions={provider: {"tools": tools}}))
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls is not None
    call = result.tool_calls[0]
    assert call["type"] == "function"
    assert call["function"]["name"] == "lookup"
    assert (
        call["function"]["arguments"]
        == f'{{"query":"{request_digest(f"{provider}-model", CONVERSATION)}"}}'
    )
    assert stub.requests()[0]["body"]["tools"] == tools


def test_request_base_url_wins_over_settings(
    stub: StubProvider, make_client: ClientFactory
) -> None:
    client = make_client(base_urls={"openai": "http://127.0.0.1:9/unused"})
    result = client.complete(ask("openai", baseUrl=stub.base_url + "/v1"))
    assert result.provider == "openai"
    assert stub.calls()["by_path"] == {"/v1/chat/completions": 1}


def test_one_client_shared_by_many_threads(stub: StubProvider, make_client: ClientFactory) -> None:
    import threading

    client = make_client()
    answers: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        for turn in range(5):
            provider = "openai" if index % 2 else "anthropic"
            text = f"thread {index} turn {turn}"
            result = client.complete(ask(provider, messages=[{"role": "user", "content": text}]))
            with lock:
                answers.append(result.content)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == len(set(answers)) == 80
    assert stub.calls()["total"] == 80
    assert stub.calls()["by_path"] == {"/chat/completions": 40, "/v1/messages": 40}
    assert client.limiter("openai").in_flight == client.limiter("anthropic").in_flight == 0
