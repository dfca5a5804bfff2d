"""BudgetMetrics: the fleet-wide budgets' counters, told by the budgets as their observer.

Every series of a budget is created at 0 on its first draw, so ``increase()`` sees a first
refusal or fallback. ``budget`` is a name from ``[llm.budgets]``: a small set fixed by settings.
"""

from __future__ import annotations

import threading

from llmix_workers.telemetry.bound import not_negative
from llmix_workers.telemetry.catalogue import Families
from llmix_workers.telemetry.metrics import Metrics


class BudgetMetrics:
    """A :class:`~llmix_workers.fleet.budget.BudgetObserver` over ``metrics``. Thread-safe."""

    def __init__(self, metrics: Metrics) -> None:
        self._f = metrics.families
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def drew(self, budget: str, tokens: int, wait_s: float, *, local: bool) -> None:
        """A call was granted ``tokens`` of ``budget`` after waiting ``wait_s``."""
        not_negative(tokens, wait_s)
        f = self._families(budget)
        f.budget_requests.labels(budget).inc()
        f.budget_tokens.labels(budget).inc(tokens)
        if wait_s > 0:
            f.budget_waits.labels(budget).inc()
            f.budget_wait_seconds.labels(budget).inc(wait_s)
        if local:
            f.budget_fallbacks.labels(budget).inc()

    def refused(self, budget: str, wait_s: float, *, local: bool) -> None:
        """A call of ``budget`` went back to the queue: its turn was too far away."""
        f = self._families(budget)
        f.budget_refusals.labels(budget).inc()
        if local:
            f.budget_fallbacks.labels(budget).inc()

    def shrunk(self, budget: str) -> None:
        """A 429 shrank ``budget`` for the whole fleet."""
        self._families(budget).budget_shrinks.labels(budget).inc()

    def _families(self, budget: str) -> Families:
        f = self._f
        if budget not in self._seen:
            with self._lock:
                for family in (f.budget_requests, f.budget_tokens, f.budget_waits,
                               f.budget_wait_seconds, f.budget_refusals, f.budget_fallbacks,
                               f.budget_shrinks):  # fmt: skip
                    family.labels(budget)
                self._seen.add(budget)
        return f
