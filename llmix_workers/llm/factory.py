"""build_llm_client: the one call that turns settings into a ready LLMClient."""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable, Mapping

from llmix_workers.llm.budgets import CallBudgets
from llmix_workers.llm.resilient import ResilienceObserver, ResilientClient
from llmix_workers.llm.router import ProviderRouter
from llmix_workers.settings import LLMSettings, Settings
from llmix_workers.settings.sizing import sized_llm


def build_llm_client(
    settings: Settings | LLMSettings,
    *,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    random: Callable[[], float] = _random.random,
    wall_clock: Callable[[], float] = time.time,
    observer: ResilienceObserver | None = None,
    budgets: CallBudgets | None = None,
) -> ResilientClient:
    """Every provider behind retries, breakers and AIMD, as ``[llm]`` configures them.

    Build one per process, in that process (after a prefork fork, never before: connection
    pools, breakers and limiters are per process), share it between its threads, and
    ``close()`` it at shutdown. Nothing connects until the first call.
    ``clock``/``sleep``/``random`` drive retries and breakers, ``wall_clock`` reads HTTP-date
    ``Retry-After`` values; tests replace them. ``budgets`` are the fleet-wide budgets every
    call draws from (the wiring builds them from ``llm.budgets``; ``None``: no budgets). Pool
    and window sizes left unset follow the worker section's concurrency (the default one for a
    bare ``LLMSettings``). ``observer`` is told what the retries and breakers did (telemetry).

    Raises:
        ConfigError: a custom provider path does not import.
    """
    if isinstance(settings, Settings):
        llm = sized_llm(settings.llm, settings.worker)
    else:
        llm = sized_llm(settings)
    router = ProviderRouter(llm, env=env, wall_clock=wall_clock, monotonic=clock)
    return ResilientClient.from_settings(
        router, llm, budgets=budgets, clock=clock, sleep=sleep, random=random, observer=observer
    )
