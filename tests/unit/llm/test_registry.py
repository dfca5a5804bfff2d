from __future__ import annotations

import pytest
from pydantic import SecretStr

from llmix_workers.errors import AuthError, ConfigError, InvalidRequest
from llmix_workers.llm.factory import build_llm_client
from llmix_workers.llm.http import HTTPPool
from llmix_workers.llm.providers.base import HTTPProvider
from llmix_workers.llm.providers.context import ProviderContext
from llmix_workers.llm.registry import ProviderRegistry, default_key_env
from llmix_workers.llm.request import LLMRequest, LLMResult
from llmix_workers.llm.router import ProviderRouter
from llmix_workers.settings import LLMSettings, load_settings
from tests.llm_support import SECRET_KEY

HELLO = [{"role": "user", "content": "hi"}]


class EchoProvider:
    """A user's own provider, as a settings file would name it."""

    def __init__(self, context: ProviderContext) -> None:
        self.context = context

    def complete(self, request: LLMRequest) -> LLMResult:
        keys = self.context.keys
        return LLMResult(
            content=f"echo via {self.context.name}, {len(keys) if keys else 0} key(s)",
            model=request.model,
            provider=request.provider,
        )

    def close(self) -> None:
        pass


def test_a_custom_provider_is_loaded_by_dotted_path() -> None:
    settings = LLMSettings(custom_providers={"mycorp": f"{__name__}:EchoProvider"})
    client = build_llm_client(settings, env={"MYCORP_API_KEY": "k1,k2"})
    try:
        result = client.complete(LLMRequest(provider="mycorp", model="m", messages=HELLO))
    finally:
        client.close()
    assert result.content == "echo via mycorp, 2 key(s)"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_module_xyz:Thing", "cannot import no_such_module_xyz"),
        (f"{__name__}:Missing", "is not a class"),
    ],
)
def test_a_bad_dotted_path_stops_start_up(path: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ProviderRegistry.from_settings({"mycorp": path})


def test_a_path_without_a_colon_is_a_settings_error() -> None:
    with pytest.raises(ConfigError, match="llm.custom_providers"):
        load_settings(llm={"custom_providers": {"mycorp": "just.a.module"}})


def test_an_unknown_provider_is_an_invalid_request() -> None:
    router = ProviderRouter(LLMSettings(), env={})
    try:
        with pytest.raises(InvalidRequest, match='unknown provider "nope"'):
            router.complete(LLMRequest(provider="nope", model="m", messages=HELLO))
    finally:
        router.close()


def test_a_provider_that_needs_a_key_names_where_to_put_it() -> None:
    router = ProviderRouter(LLMSettings(), env={})
    try:
        with pytest.raises(AuthError, match="OPENAI_API_KEY or LLMIX_LLM__API_KEYS__OPENAI"):
            router.provider("openai")
    finally:
        router.close()


def test_settings_keys_win_over_the_environment() -> None:
    settings = LLMSettings(api_keys={"openai": SecretStr(SECRET_KEY)})
    router = ProviderRouter(settings, env={"OPENAI_API_KEY": "env-key"})
    try:
        provider = router.provider("openai")
        assert isinstance(provider, HTTPProvider) and provider.context.keys is not None
        assert provider.context.keys.select() == SECRET_KEY
        assert SECRET_KEY not in repr(provider)
    finally:
        router.close()


def test_local_servers_need_no_key() -> None:
    router = ProviderRouter(LLMSettings(), env={})
    try:
        provider = router.provider("vllm")
        assert isinstance(provider, HTTPProvider)
        assert provider.context.keys is None
        assert isinstance(router.http, HTTPPool)
    finally:
        router.close()


def test_key_env_names() -> None:
    assert default_key_env("deepinfra") == "DEEPINFRA_API_KEY"
    assert default_key_env("my-corp") == "MY_CORP_API_KEY"
    assert ProviderRegistry().get("anthropic").key_env == "ANTHROPIC_API_KEY"
    assert set(ProviderRegistry().names()) >= {"openai", "openrouter", "together", "ollama"}
