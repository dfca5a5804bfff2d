"""HealthState: what ``/healthz`` and ``/readyz`` answer for one worker node."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmix_workers.settings import TelemetrySettings

Check = Callable[[], bool]


class HealthState:
    """Liveness from consumer-loop beats, readiness from the broker and the cache Redis.

    Live while the last :meth:`beat` (or the start) is at most ``liveness_timeout_s`` old.
    Ready when ``broker_ok()`` returns true (no callable: no broker check) and, if
    ``cache_needs_redis``, the cache Redis answered within ``readiness_timeout_s``: reported by
    :meth:`redis_answered`, or else by ``redis_probe()`` when one is given. Checks that raise
    count as failed; their messages, which may hold a URL with a password, are never shown.
    Thread-safe; ``clock`` is monotonic seconds.
    """

    def __init__(
        self,
        *,
        liveness_timeout_s: float,
        readiness_timeout_s: float,
        broker_ok: Check | None = None,
        cache_needs_redis: bool = True,
        redis_probe: Check | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.liveness_timeout_s = liveness_timeout_s
        self.readiness_timeout_s = readiness_timeout_s
        self._broker_ok = broker_ok
        self._needs_redis = cache_needs_redis
        self._redis_probe = redis_probe
        self._clock = clock
        self._lock = threading.Lock()
        self._last_beat = clock()
        self._last_redis: float | None = None

    @classmethod
    def from_settings(
        cls,
        section: TelemetrySettings,
        *,
        broker_ok: Check | None = None,
        cache_needs_redis: bool = True,
        redis_probe: Check | None = None,
    ) -> HealthState:
        """A ``HealthState`` with the timeouts of the ``[telemetry]`` section."""
        return cls(
            liveness_timeout_s=section.liveness_timeout_s,
            readiness_timeout_s=section.readiness_timeout_s,
            broker_ok=broker_ok,
            cache_needs_redis=cache_needs_redis,
            redis_probe=redis_probe,
        )

    def beat(self) -> None:
        """The consumer loop made progress (cheap: one clock read)."""
        self._last_beat = self._clock()

    def redis_answered(self) -> None:
        """The cache Redis answered a command just now."""
        self._last_redis = self._clock()

    def liveness(self) -> tuple[bool, str]:
        """``(live, reason)``."""
        idle_s = self._clock() - self._last_beat
        if idle_s > self.liveness_timeout_s:
            return False, f"no consumer progress for {idle_s:.0f}s"
        return True, "alive"

    def readiness(self) -> tuple[bool, str]:
        """``(ready, reason)``; may call the broker check and the Redis probe."""
        if self._broker_ok is not None and not _passes(self._broker_ok):
            return False, "broker unreachable"
        if self._needs_redis and not self._redis_fresh():
            if self._last_redis is None:
                return False, "cache Redis has not answered yet"
            idle_s = self._clock() - self._last_redis
            return False, f"cache Redis has not answered for {idle_s:.0f}s"
        return True, "ready"

    def _redis_fresh(self) -> bool:
        last = self._last_redis
        if last is not None and self._clock() - last <= self.readiness_timeout_s:
            return True
        if self._redis_probe is None:
            return False
        with self._lock:
            if _passes(self._redis_probe):
                self.redis_answered()
                return True
        return False


def _passes(check: Check) -> bool:
    try:
        return bool(check())
    except Exception:
        return False
