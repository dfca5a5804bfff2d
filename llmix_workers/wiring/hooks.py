"""Hooks: the one seam through which telemetry (or any concern that cuts across the parts) is
attached to a process, once, while the wiring builds it.

In the spirit of dogpile's ``wrap=`` (proxies around a backend) and dramatiq's middleware: the
wiring asks the process's hooks for a wrapper or an observer as it builds each part and passes
the answer to that part's constructor; the parts never know telemetry exists, and nothing is
patched in by setting attributes afterwards. :class:`NoHooks` adds nothing;
:class:`~llmix_workers.telemetry.hooks.TelemetryHooks` adds counters, gauges and spans.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from llmix_workers.cache.backend import Invalidator, L2Backend
from llmix_workers.cache.stats import CacheStats
from llmix_workers.fleet.answers import FleetCounts
from llmix_workers.fleet.budget import BudgetObserver
from llmix_workers.jobs.observer import JobObserver
from llmix_workers.llm.resilient import ResilienceObserver


class Hooks(Protocol):
    """What a process's parts are built with, beyond settings. Asked once per part."""

    def wrap_l2(self, backend: L2Backend) -> L2Backend:
        """The L2 backend the cache gets (``backend``, or a wrapper around it)."""
        ...

    def wrap_invalidator(self, invalidator: Invalidator) -> Invalidator:
        """The invalidator the cache gets (same reach as ``invalidator``)."""
        ...

    def job_observer(self) -> JobObserver | None:
        """Told each step of each job (``None``: nobody listens)."""
        ...

    def resilience_observer(self) -> ResilienceObserver | None:
        """Told what the provider client's retries and breakers did."""
        ...

    def budget_observer(self) -> BudgetObserver | None:
        """Told what the fleet-wide budgets did (draws, waits, refusals, fallbacks, shrinks)."""
        ...

    def fleet_counts(self) -> FleetCounts | None:
        """Counts what the fleet member takes from the fleet's lists (``None``: take nothing)."""
        ...

    def start(self, stats: Callable[[], CacheStats] | None) -> None:
        """The process is wired (``stats``: its cache's numbers, ``None`` without a cache)."""
        ...

    def close(self) -> None:
        """The process stops: flush and release what the hooks hold."""
        ...


class NoHooks:
    """Adds nothing: telemetry off."""

    def wrap_l2(self, backend: L2Backend) -> L2Backend:
        return backend

    def wrap_invalidator(self, invalidator: Invalidator) -> Invalidator:
        return invalidator

    def job_observer(self) -> JobObserver | None:
        return None

    def resilience_observer(self) -> ResilienceObserver | None:
        return None

    def budget_observer(self) -> BudgetObserver | None:
        return None

    def fleet_counts(self) -> FleetCounts | None:
        return None

    def start(self, stats: Callable[[], CacheStats] | None) -> None:
        return None

    def close(self) -> None:
        return None
