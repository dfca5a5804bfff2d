"""MemoryL2: the L2 contract in a dict, with an injected clock and switches to simulate outages
(``down``: refused at once) and a hung server (``hung``: timed out); ``attempts`` counts calls."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence

from llmix_workers.cache.backend import MISS, Miss
from llmix_workers.errors import L2Unavailable

_DIGEST = re.compile(r"[0-9a-f]{64}")


def is_entry_key(key: str, prefix: str) -> bool:
    """``key`` is ``prefix`` followed by exactly 64 lowercase hex digits."""
    return key.startswith(prefix) and _DIGEST.fullmatch(key, len(prefix)) is not None


class MemoryL2:
    """An in-process stand-in for Redis: TTLs on ``clock``, ``down = True`` raises like an outage.

    Only for tests and single-process use: nothing is shared between processes.
    """

    enabled = True

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[str, tuple[bytes, float]] = {}
        self.down = False
        self.hung = False
        self.attempts = 0

    def _check(self) -> None:
        self.attempts += 1
        if self.down:
            raise L2Unavailable("MemoryL2 is down (simulated outage)")
        if self.hung:
            raise L2Unavailable("MemoryL2 timed out (simulated hung server)", timed_out=True)

    def get(self, key: str) -> bytes | Miss:
        self._check()
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return MISS
            if self._clock() >= item[1]:
                del self._items[key]
                return MISS
            return item[0]

    def get_many(self, keys: Sequence[str]) -> list[bytes | Miss]:
        return [self.get(key) for key in keys]

    def set(self, key: str, payload: bytes, ttl_s: int) -> None:
        self._check()
        with self._lock:
            self._items[key] = (payload, self._clock() + ttl_s)

    def put_raw(self, key: str, payload: bytes, ttl_s: int) -> None:
        """Store bytes as another writer would (tests use it for foreign or malformed entries)."""
        self.set(key, payload, ttl_s)

    def delete_entries(self, prefix: str, batch_size: int) -> int:
        self._check()
        with self._lock:
            doomed = [key for key in self._items if is_entry_key(key, prefix)]
            for key in doomed:
                del self._items[key]
            return len(doomed)

    def count_entries(self, prefix: str) -> int:
        self._check()
        now = self._clock()
        with self._lock:
            return sum(1 for k, v in self._items.items() if is_entry_key(k, prefix) and v[1] > now)

    def close(self) -> None:
        return None
