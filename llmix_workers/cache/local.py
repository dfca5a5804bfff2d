"""LocalLRU: the L1 tier, a bounded LRU with per-entry expiry, private to one process."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from llmix_workers.cache.backend import MISS, Miss

V = TypeVar("V")


class LocalLRU(Generic[V]):
    """At most ``max_entries`` entries; the least recently used goes first when full.

    An entry expires when ``clock() >= expires_at`` (the clock is wall time, as ``cached_at``).
    Thread-safe with its own lock; scope is the process, never shared across a fork.
    """

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.time) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[V, float]] = OrderedDict()

    def get(self, key: str) -> V | Miss:
        """The live entry under ``key`` (now most recently used), or ``MISS``.

        A hit takes no lock: each OrderedDict call is atomic, and a ``put``, eviction or
        ``clear`` landing between the read and ``move_to_end`` only leaves the recency as it
        found it (the answer read is the one a locked read just before would have given).
        """
        item = self._items.get(key)
        if item is None:
            return MISS
        if self._clock() >= item[1]:
            with self._lock:
                if self._items.get(key) is item:
                    del self._items[key]
            return MISS
        try:
            self._items.move_to_end(key)
        except KeyError:
            pass  # evicted or cleared meanwhile
        return item[0]

    def put(self, key: str, value: V, expires_at: float) -> None:
        """Store ``value`` until ``expires_at`` (clock seconds), evicting the LRU entry if full."""
        with self._lock:
            self._items[key] = (value, expires_at)
            self._items.move_to_end(key)
            if len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> int:
        """Drop every entry; return how many there were."""
        with self._lock:
            count = len(self._items)
            self._items.clear()
            return count

    def __len__(self) -> int:
        return len(self._items)
