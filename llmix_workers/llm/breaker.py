"""CircuitBreaker: stop calling a provider endpoint that keeps failing (docs: design page).

CLOSED → OPEN after ``failure_threshold`` consecutive retryable failures (408, 429, 5xx,
network). OPEN rejects calls for ``cooldown_s``, then HALF_OPEN lets one probe through: its
success (or any non-retryable answer, which proves the endpoint is up) closes the breaker, a
retryable failure opens it again. 401/403 and other 4xx never count; a success resets the count.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable

from llmix_workers.errors import CircuitOpen
from llmix_workers.llm.retry import is_retryable_status

#: Seconds a refused caller is told to wait when the answer is only "the probe is out".
PROBE_WAIT_S = 1.0


class BreakerState(enum.Enum):
    """Where a breaker stands; the values are the LLMix fixture names."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class CircuitBreaker:
    """One breaker for one (provider, base URL). Thread-safe; ``clock`` is monotonic seconds."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        failure_threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.base_url = base_url
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_out = False

    @property
    def state(self) -> BreakerState:
        """The state now, OPEN turning HALF_OPEN once the cooldown has passed."""
        with self._lock:
            return self._current()

    def check(self) -> None:
        """Let a call through, or refuse it.

        Raises:
            CircuitOpen: the breaker is OPEN, or HALF_OPEN with its probe already out;
                ``retry_after_s`` is the time left before a call may go through.
        """
        with self._lock:
            wait_s = self._wait_s()
            if wait_s == 0:
                if self._state is BreakerState.HALF_OPEN:
                    self._probe_out = True
                return
        raise CircuitOpen(
            f"circuit open for {self.provider} at {self.base_url or 'its default URL'}",
            retry_after_s=wait_s,
            provider=self.provider,
        )

    def blocked_for_s(self) -> float:
        """Seconds until :meth:`check` may let a call through again (0 when it would now)."""
        with self._lock:
            return self._wait_s()

    def on_success(self) -> None:
        """Record a successful call: closes the breaker and resets the failure count."""
        with self._lock:
            self._close()

    def on_failure(self, status: int | None = None, *, network_error: bool = False) -> None:
        """Record a failed call: an HTTP ``status``, or a ``network_error`` with no status."""
        retryable = network_error or (status is not None and is_retryable_status(status))
        with self._lock:
            state = self._current()
            if state is BreakerState.HALF_OPEN:
                if retryable:
                    self._open()
                else:
                    self._close()
            elif not retryable:
                self._failures = 0
            else:
                self._failures += 1
                if self._failures >= self.failure_threshold:
                    self._open()

    def release_probe(self) -> None:
        """Give back a HALF_OPEN probe that ended without an answer either way."""
        with self._lock:
            self._probe_out = False

    def _wait_s(self) -> float:
        state = self._current()
        if state is BreakerState.CLOSED or (
            state is BreakerState.HALF_OPEN and not self._probe_out
        ):
            return 0.0
        if state is BreakerState.HALF_OPEN:
            return PROBE_WAIT_S
        return max(self._opened_at + self.cooldown_s - self._clock(), PROBE_WAIT_S)

    def _current(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() >= self._opened_at + self.cooldown_s:
            self._state = BreakerState.HALF_OPEN
            self._probe_out = False
        return self._state

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probe_out = False

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probe_out = False
