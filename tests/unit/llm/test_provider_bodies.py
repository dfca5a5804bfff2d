"""Request → body mapping of the built-in providers (the HTTP path is in tests/providers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llmix_workers.llm.http import HTTPPool
from llmix_workers.llm.key_pool import KeyPool
from llmix_workers.llm.providers.anthropic import AnthropicClient
from llmix_workers.llm.providers.context import ProviderContext, merged_options
from llmix_workers.llm.providers.openai_compat import OpenAICompatibleClient, is_reasoning_model
from llmix_workers.llm.request import LLMRequest
from llmix_workers.settings import LLMSettings

COOLOFF_S = LLMSettings().key_cooloff_s

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
FULL: dict[str, Any] = {
    "messages": MESSAGES,
    "temperature": 0.3,
    "maxOutputTokens": 100,
    "topP": 0.9,
    "topK": 40,
    "seed": 7,
    "stopSequences": ["END"],
    "presencePenalty": 0.1,
    "frequencyPenalty": 0.2,
    "responseFormat": {"type": "json_object"},
}


@pytest.fixture
def http() -> Iterator[HTTPPool]:
    pool = HTTPPool(max_connections=1, timeout_s=5, connect_timeout_s=5)
    yield pool
    pool.close()


def context(http: HTTPPool, name: str) -> ProviderContext:
    return ProviderContext(
        name, LLMSettings(), http, KeyPool(["k"], provider=name, cooloff_s=COOLOFF_S)
    )


def request(**fields: Any) -> LLMRequest:
    return LLMRequest.from_payload({**FULL, **fields})


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [
        ("o1", True),
        ("o3-mini", True),
        ("o4-mini", True),
        ("gpt-5-nano", True),
        ("GPT-5", True),
        ("gpt-4.1", False),
        ("gpt-4o", False),
        ("omni", False),
    ],
)
def test_reasoning_models(model: str, reasoning: bool) -> None:
    assert is_reasoning_model(model) is reasoning


def test_openai_chat_model_body(http: HTTPPool) -> None:
    body = OpenAICompatibleClient(context(http, "openai")).body(
        request(provider="openai", model="gpt-4.1")
    )
    assert body == {
        "model": "gpt-4.1",
        "messages": MESSAGES,
        "max_tokens": 100,
        "temperature": 0.3,
        "top_p": 0.9,
        "seed": 7,
        "stop": ["END"],
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "response_format": {"type": "json_object"},
    }


def test_openai_reasoning_model_body(http: HTTPPool) -> None:
    body = OpenAICompatibleClient(context(http, "openai")).body(
        request(provider="openai", model="o3-mini")
    )
    assert body["max_completion_tokens"] == 100
    assert not {"max_tokens", "temperature", "top_p", "top_k"} & body.keys()


def test_other_openai_compatible_servers_keep_top_k_and_vllm_gets_thinking(
    http: HTTPPool,
) -> None:
    client = OpenAICompatibleClient(context(http, "vllm"))
    body = client.body(request(provider="vllm", model="o3-like", enableThinking=False))
    assert body["top_k"] == 40
    assert body["temperature"] == 0.3
    assert body["chat_template_kwargs"] == {"enable_thinking": False}


def test_anthropic_body_takes_the_system_message_apart(http: HTTPPool) -> None:
    body = AnthropicClient(context(http, "anthropic")).body(
        request(provider="anthropic", model="claude")
    )
    assert body == {
        "model": "claude",
        "system": "be brief",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 100,
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END"],
    }


def test_anthropic_defaults_max_tokens_and_enables_thinking(http: HTTPPool) -> None:
    client = AnthropicClient(context(http, "anthropic"))
    body = client.body(
        LLMRequest(
            provider="anthropic",
            model="c",
            messages=MESSAGES,
            temperature=0.5,
            enable_thinking=True,
        )
    )
    assert body["max_tokens"] == 4096
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "temperature" not in body
    assert client.url("https://api.anthropic.com/v1") == "https://api.anthropic.com/v1/messages"


def test_provider_options_flat_namespaced_and_extra_body() -> None:
    options = {
        "reasoning_effort": "high",
        "openai": {"user": "u1", "reasoning_effort": "low"},
        "anthropic": {"metadata": {"user_id": "x"}},
        "extra_body": {"provider": {"sort": "price"}},
    }
    assert merged_options("openai", options) == {
        "reasoning_effort": "low",
        "user": "u1",
        "provider": {"sort": "price"},
    }
    assert merged_options("anthropic", options)["metadata"] == {"user_id": "x"}
    assert merged_options("openai", None) == {}
