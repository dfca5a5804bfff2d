"""build_llm_client: the one call that turns settings into a ready LLMClient."""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable, Mapping

import httpx

from llmix_workers.llm.resilient import ResilienceObserver, ResilientClient
from llmix_workers.llm.router import ProviderRouter
from llmix_workers.settings import LLMSettings, Settings


def build_llm_client(
    settings: Settings | LLMSettings,
    *,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    random: Callable[[], float] = _random.random,
    wall_clock: Callable[[], float] = time.time,
    observer: ResilienceObserver | None = None,
) -> ResilientClient:
    """Every provider behind retries, breakers and AIMD, as ``[llm]`` configures them.

    Build one per process, in that process (after a prefork fork, never before: connection
    pools, breakers and limiters are per process), share it between its threads, and
    ``close()`` it at shutdown. Nothing connects until the first call.
    ``clock``/``sleep``/``random`` drive retries and breakers, ``wall_clock`` reads HTTP-date
    ``Retry-After`` values; tests replace them. ``observer`` is told what the retries and
    breakers did (telemetry).

    Raises:
        ConfigError: a custom provider path does not import.
    """
    llm = settings.llm if isinstance(settings, Settings) else settings
    router = ProviderRouter(
        llm, env=env, transport=transport, wall_clock=wall_clock, monotonic=clock
    )
    return ResilientClient.from_settings(
        router, llm, clock=clock, sleep=sleep, random=random, observer=observer
    )
