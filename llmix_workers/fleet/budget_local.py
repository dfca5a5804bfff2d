"""LocalBudget: a process's own share of a budget, for while the fleet's Redis is unreachable.

The same cell rate as the shared budget (GCRA over requests and tokens, reservations up to a
wait), on this process's monotonic clock, at the budget's rates divided by the live members the
process last saw in Redis: never the whole budget, unless it was alone.
"""

from __future__ import annotations

import threading


class LocalBudget:
    """Requests and tokens per minute (0: none) for one process. Thread-safe."""

    def __init__(self, rpm: float, tpm: float, *, burst_s: float) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self._burst_s = burst_s
        self._request_tat = 0.0
        self._token_tat = 0.0
        self._lock = threading.Lock()

    def halve(self) -> None:
        """A 429 while Redis is unreachable: half the rates from now on."""
        with self._lock:
            self.rpm, self.tpm = self.rpm / 2, self.tpm / 2

    def draw(self, now: float, tokens: int, max_wait_s: float) -> tuple[bool, float]:
        """Reserve one call of ``tokens`` (``now``: monotonic seconds): whether it was granted
        and the seconds to wait before it; not granted (nothing reserved) when that wait
        would exceed ``max_wait_s``."""
        with self._lock:
            per_request = 60 / self.rpm if self.rpm else 0.0
            per_token = 60 / self.tpm if self.tpm else 0.0
            wait_s = 0.0
            if per_request:
                wait_s = max(wait_s, self._request_tat - self._burst_s - now)
            if per_token:
                wait_s = max(wait_s, self._token_tat - self._burst_s - now)
            if wait_s > max_wait_s:
                return False, wait_s
            if per_request:
                self._request_tat = max(self._request_tat, now) + per_request
            if per_token:
                self._token_tat = max(self._token_tat, now) + tokens * per_token
            return True, wait_s
