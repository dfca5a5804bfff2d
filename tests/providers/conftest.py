"""A stub provider per test, and clients pointed at it with fake keys and fake time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llmix_workers.llm.factory import build_llm_client
from llmix_workers.llm.resilient import ResilientClient
from llmix_workers.settings import LLMSettings
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.stub import StubProvider
from tests.llm_support import SECRET_KEY, fake_time, half

ClientFactory = Callable[..., ResilientClient]


@pytest.fixture
def stub() -> Iterator[StubProvider]:
    with StubProvider() as server:
        yield server


@pytest.fixture
def time() -> FakeClock:
    return fake_time()


@pytest.fixture
def make_client(stub: StubProvider, time: FakeClock) -> Iterator[ClientFactory]:
    """Build a client for the stub: every provider's base URL is the stub, keys are fake.

    ``keys`` maps provider → key value (default: ``SECRET_KEY`` for openai and anthropic);
    other keyword arguments are ``[llm]`` settings.
    """
    clients: list[ResilientClient] = []

    def make(keys: dict[str, str] | None = None, **settings: Any) -> ResilientClient:
        names = ("openai", "anthropic", "openrouter", "vllm", "ollama", "together", "deepinfra")
        env = {"OPENAI_API_KEY": SECRET_KEY, "ANTHROPIC_API_KEY": SECRET_KEY}
        env.update({f"{name.upper()}_API_KEY": value for name, value in (keys or {}).items()})
        settings["base_urls"] = {name: stub.base_url for name in names} | settings.get(
            "base_urls", {}
        )
        llm = LLMSettings(**settings)
        client = build_llm_client(
            llm, env=env, clock=time.clock, sleep=time.sleep, random=half, wall_clock=time.wall
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
