"""L2Health: when the shared tier may be used, after the LLMix health rule and a hung Redis.

LLMix: three consecutive failed writes mark L2 unhealthy; a successful write marks it healthy;
while unhealthy, L2 is left alone for ``cooloff_s`` and then probed once per cool-off window.
Beyond LLMix: an operation that *timed out* (a hung Redis, not a refused connection) opens an
:class:`~llmix_workers.topology.outage.Outage`: L2 is quiet for one cool-off window, so each
thread of a busy process pays at most one Redis timeout per window instead of one per lookup.
The outage may be shared with the other parts that talk to the same Redis (the fleet member
and lock), so that a job pays at most one timeout per Redis, whichever part meets it first;
while it lasts, L2 counts as unavailable (:attr:`L2Health.available`, the health gauge).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from llmix_workers.errors import L2Unavailable
from llmix_workers.topology.outage import Outage

logger = logging.getLogger(__name__)

#: Consecutive failed L2 writes that mark L2 unhealthy (LLMix).
L2_UNHEALTHY_AFTER_FAILURES: Final = 3


class L2Health:
    """Thread-safe; ``monotonic`` is injected so tests need no real time."""

    def __init__(
        self, cooloff_s: float, monotonic: Callable[[], float], outage: Outage | None = None
    ) -> None:
        self.healthy = True
        self.errors = 0
        self._cooloff_s = cooloff_s
        self._monotonic = monotonic
        self._outage = outage if outage is not None else Outage(cooloff_s, monotonic)
        self._lock = threading.Lock()
        self._write_failures = 0
        self._retry_at = 0.0

    @property
    def available(self) -> bool:
        """Healthy (LLMix) and not in a timeout's cool-off: what the health gauge reports."""
        return self.healthy and not self._outage.quiet()

    def usable(self) -> bool:
        """May L2 be tried now? Not while quiet; while unhealthy, once per cool-off window."""
        if self._outage.quiet():
            return False
        if self.healthy:
            return True
        now = self._monotonic()
        with self._lock:
            if now < self._retry_at:
                return False
            self._retry_at = now + self._cooloff_s  # one probe per cool-off window
            return True

    def answered(self) -> None:
        """A read succeeded: Redis answers again, let the next write prove it healthy."""
        self._outage.answered()
        if not self.healthy:
            self._retry_at = 0.0

    def read_failed(self, exc: L2Unavailable) -> None:
        self.errors += 1
        self._quiet_after(exc)
        logger.warning("L2 read failed, treated as a miss: %s", exc)

    def write_failed(self, exc: L2Unavailable) -> None:
        self.errors += 1
        self._quiet_after(exc)
        with self._lock:
            self._write_failures += 1
            if self._write_failures >= L2_UNHEALTHY_AFTER_FAILURES and self.healthy:
                self.healthy = False
                self._retry_at = self._monotonic() + self._cooloff_s
                logger.warning("L2 unhealthy after %d failed writes: %s", self._write_failures, exc)
                return
        logger.warning("L2 write failed: %s", exc)

    def write_succeeded(self) -> None:
        self._outage.answered()
        if self._write_failures or not self.healthy:
            with self._lock:
                if not self.healthy:
                    logger.info("L2 healthy again")
                self._write_failures = 0
                self.healthy = True

    def _quiet_after(self, exc: L2Unavailable) -> None:
        if exc.timed_out:
            self._outage.timed_out()
