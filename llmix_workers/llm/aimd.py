"""AdaptiveLimiter: AIMD concurrency per provider, steered by 429s and rate-limit headers.

The window starts at ``initial`` (also its ceiling) and never drops below ``minimum``. A 429
halves it. Without header signals a success adds one. Once a provider has sent OpenAI's
``x-ratelimit-remaining-requests`` / ``x-ratelimit-limit-requests``, successes stop counting and
the headers steer instead: 10 % or more remaining adds one, less scales the window between the
floor (nothing left) and the ceiling (10 % left). These are the rules of the LLMix fixture
``aimd-scenarios.json``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import NamedTuple

HEADER_THRESHOLD = 0.10
REMAINING_HEADER = "x-ratelimit-remaining-requests"
LIMIT_HEADER = "x-ratelimit-limit-requests"


class RateLimitInfo(NamedTuple):
    """Requests left in the provider's current window, and the window's size."""

    remaining: int
    limit: int


def parse_ratelimit_headers(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """OpenAI's request rate-limit headers (lower-case names), or ``None`` if absent or bad."""
    remaining, limit = headers.get(REMAINING_HEADER), headers.get(LIMIT_HEADER)
    if remaining is None or limit is None:
        return None
    try:
        info = RateLimitInfo(int(remaining), int(limit))
    except ValueError:
        return None
    return info if info.limit > 0 else None


class AdaptiveLimiter:
    """A semaphore whose size moves. Thread-safe; scope is the process.

    Shrinking never interrupts calls already running: new ones wait until the number in flight
    is below the new window.
    """

    def __init__(self, initial: int, minimum: int) -> None:
        if not 1 <= minimum <= initial:
            raise ValueError(f"need 1 <= minimum <= initial (got {minimum}, {initial})")
        self.initial = initial
        self.minimum = minimum
        self._window = initial
        self._in_flight = 0
        self._header_signal = False
        self._changed = threading.Condition()

    @property
    def window(self) -> int:
        """Calls allowed in flight at once right now."""
        with self._changed:
            return self._window

    @property
    def in_flight(self) -> int:
        """Calls holding a slot right now."""
        with self._changed:
            return self._in_flight

    def acquire(self, timeout_s: float | None = None) -> bool:
        """Take a slot, waiting up to ``timeout_s`` (forever if ``None``); False if none came."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._in_flight < self._window, timeout_s):
                return False
            self._in_flight += 1
            return True

    def release(self) -> None:
        """Give back a slot taken by :meth:`acquire`."""
        with self._changed:
            self._in_flight -= 1
            self._changed.notify()

    def on_success(self) -> None:
        """Additive increase, unless rate-limit headers are steering."""
        with self._changed:
            if not self._header_signal:
                self._resize(self._window + 1)

    def on_rate_limit(self) -> None:
        """Multiplicative decrease on a 429, whatever the headers said."""
        with self._changed:
            self._resize(self._window // 2)

    def on_headers(self, info: RateLimitInfo) -> None:
        """Steer from the provider's own count of requests left."""
        if info.limit <= 0:
            return
        with self._changed:
            self._header_signal = True
            ratio = info.remaining / info.limit
            if ratio >= HEADER_THRESHOLD:
                self._resize(self._window + 1)
            else:
                span = self.initial - self.minimum
                self._resize(int(self.minimum + ratio / HEADER_THRESHOLD * span))

    def _resize(self, target: int) -> None:
        target = max(self.minimum, min(target, self.initial))
        if target > self._window:
            self._changed.notify(target - self._window)
        self._window = target
