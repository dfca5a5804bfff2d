"""When a failed ``llmix.complete`` goes back to the queue, and after how long.

A try that reached the provider and failed retryably (429, 5xx, timeout) spends one of
``worker.max_requeues``. A try refused locally before any call (an open circuit breaker, a full
concurrency window, a fleet-wide budget with no turn soon enough) spends nothing of it: the
provider said nothing about this job, and in a rate-limit storm the breaker can refuse every
job for many cool-downs in a row. Those re-queues are bounded by time instead,
``worker.max_circuit_wait_s`` of countdowns in all, and get up to a second of jitter so the
waiting jobs do not all come back at once.

A refused try's countdown never outlasts half of ``worker.visibility_timeout_s``: a Redis
broker hands a message whose countdown outlasts its visibility timeout to another worker while
the first one still holds it, so each copy runs, is refused and re-queues again, and the copies
multiply (seen with a 4 s visibility timeout and a 30 s breaker cool-down: one job's re-queues
grew to ~60 a second). A job that comes back early is refused again while the breaker is open,
spending nothing. A try the provider answered keeps the wait the provider asked for
(``Retry-After``); keep the visibility timeout above the longest one you accept.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol

from llmix_workers.errors import LLMError

#: Shortest countdown of a re-queue, seconds.
MIN_COUNTDOWN_S = 0.1


class RequeueLimits(Protocol):
    """The ``worker`` settings section, as far as re-queues go."""

    @property
    def max_requeues(self) -> int: ...

    @property
    def max_circuit_wait_s(self) -> float: ...

    @property
    def visibility_timeout_s(self) -> int: ...


@dataclass(frozen=True)
class RequeuePlan:
    """One job's re-queue budget as its message carries it."""

    limits: RequeueLimits
    requeues: int = 0
    circuit_wait_s: float = 0.0
    #: Drawn once per try, so :meth:`allows` and :meth:`countdown` agree.
    jitter_s: float = field(default_factory=lambda: random.uniform(0.0, 1.0))

    def allows(self, error: LLMError) -> bool:
        """True when ``error`` would send the job back to the queue (not a finished job)."""
        return self.countdown(error) is not None

    def countdown(self, error: LLMError) -> float | None:
        """Seconds before the re-queued job runs again, or None: the job fails with ``error``."""
        if not error.retryable:
            return None
        wait_s = max(error.retry_after_s or 1.0, MIN_COUNTDOWN_S)
        if error.provider_calls:
            return wait_s if self.requeues < self.limits.max_requeues else None
        wait_s = self._capped(wait_s + self.jitter_s)
        if self.circuit_wait_s + wait_s > self.limits.max_circuit_wait_s:
            return None
        return wait_s

    def _capped(self, wait_s: float) -> float:
        """``wait_s``, at most half the visibility timeout (see the module docstring)."""
        return min(wait_s, max(MIN_COUNTDOWN_S, self.limits.visibility_timeout_s / 2))

    def after(self, error: LLMError, countdown: float) -> RequeuePlan:
        """The budget the re-queued message carries."""
        if error.provider_calls:
            return RequeuePlan(self.limits, self.requeues + 1, self.circuit_wait_s)
        return RequeuePlan(self.limits, self.requeues, self.circuit_wait_s + countdown)
