"""Provider calls go through the proxy the environment names, as they did with httpx."""

from __future__ import annotations

import pytest

from llmix_workers.llm.factory import build_llm_client
from llmix_workers.llm.request import LLMRequest
from llmix_workers.settings import LLMSettings
from llmix_workers.testing.stub import StubProvider
from tests.llm_support import SECRET_KEY

ASK = LLMRequest(provider="openai", model="m", messages=[{"role": "user", "content": "hi"}])


def test_http_proxy_from_the_environment_carries_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    with StubProvider() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        llm = LLMSettings(base_urls={"openai": "http://llm.example.invalid/v1"})
        client = build_llm_client(llm, env={"OPENAI_API_KEY": SECRET_KEY})
        try:
            assert client.complete(ASK).content.startswith("Stub answer ")
        finally:
            client.close()
        assert proxy.calls()["total"] == 1


def test_no_proxy_hosts_are_called_directly(
    stub: StubProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    with StubProvider() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        llm = LLMSettings(base_urls={"openai": f"{stub.base_url}/v1"})
        client = build_llm_client(llm, env={"OPENAI_API_KEY": SECRET_KEY})
        try:
            client.complete(ASK)
        finally:
            client.close()
        assert (proxy.calls()["total"], stub.calls()["total"]) == (0, 1)
