"""HealthState: what ``/healthz`` and ``/readyz`` answer for one worker node.

A worker is a queue consumer: it is *live* while its consumer loop makes progress and *ready*
while it can take jobs, which needs the broker and nothing else. The cache's Redis is not part
of readiness: an L2 outage degrades to L1 and the provider (the cache fails open), so a node
without L2 still serves, and a rollout must not stall on it; L2 shows in the
``llmix_l2_healthy`` gauge and its alert instead, and fleet state in ``llmix_fleet_lease_valid``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from llmix_workers.settings import TelemetrySettings

Check = Callable[[], bool]
#: Seconds between two broker probes (probes arrive from every kubelet period; answers reused).
PROBE_INTERVAL_S: Final = 2.0


class HealthState:
    """Liveness from consumer-loop beats, readiness from the broker.

    Live while the last :meth:`beat` (or the start) is at most ``liveness_timeout_s`` old.
    Ready while the broker answered ``broker_probe()`` (asked at most every
    ``probe_interval_s``) within ``readiness_timeout_s``; no probe: always ready. A probe that
    raises counts as no answer; its message, which may hold a URL with a password, is never
    shown. Thread-safe; ``clock`` is monotonic seconds.
    """

    def __init__(
        self,
        *,
        liveness_timeout_s: float,
        readiness_timeout_s: float,
        broker_probe: Check | None = None,
        probe_interval_s: float = PROBE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.liveness_timeout_s = liveness_timeout_s
        self.readiness_timeout_s = readiness_timeout_s
        self._probe = broker_probe
        self._probe_interval_s = probe_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_beat = clock()
        self._last_answer: float | None = None
        self._last_probe = -float("inf")

    @classmethod
    def from_settings(
        cls, section: TelemetrySettings, *, broker_probe: Check | None = None
    ) -> HealthState:
        """A ``HealthState`` with the timeouts of the ``[telemetry]`` section."""
        return cls(
            liveness_timeout_s=section.liveness_timeout_s,
            readiness_timeout_s=section.readiness_timeout_s,
            broker_probe=broker_probe,
        )

    def beat(self) -> None:
        """The consumer loop made progress (cheap: one clock read)."""
        self._last_beat = self._clock()

    def broker_answered(self) -> None:
        """The broker answered just now."""
        self._last_answer = self._clock()

    def liveness(self) -> tuple[bool, str]:
        """``(live, reason)``."""
        idle_s = self._clock() - self._last_beat
        if idle_s > self.liveness_timeout_s:
            return False, f"no consumer progress for {idle_s:.0f}s"
        return True, "alive"

    def readiness(self) -> tuple[bool, str]:
        """``(ready, reason)``; may probe the broker."""
        if self._probe is None:
            return True, "ready"
        self._maybe_probe()
        last = self._last_answer
        if last is None:
            return False, "broker has not answered yet"
        idle_s = self._clock() - last
        if idle_s > self.readiness_timeout_s:
            return False, f"broker has not answered for {idle_s:.0f}s"
        return True, "ready"

    def _maybe_probe(self) -> None:
        with self._lock:
            if self._clock() - self._last_probe < self._probe_interval_s:
                return
            self._last_probe = self._clock()
            if _passes(self._probe):
                self.broker_answered()


def _passes(check: Check | None) -> bool:
    try:
        return check is not None and bool(check())
    except Exception:
        return False
