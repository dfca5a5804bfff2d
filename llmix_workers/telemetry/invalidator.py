"""InstrumentedInvalidator: the fleet's invalidation decisions, counted, around any Invalidator."""

from __future__ import annotations

from llmix_workers.cache.backend import Invalidator, L1Owner
from llmix_workers.cache.stamp import Stamp
from llmix_workers.cache.stats import CacheStats
from llmix_workers.telemetry.metrics import Metrics


class _CountingOwner:
    """The cache as the invalidator sees it: each drop it asks for is a local clear."""

    def __init__(self, cache: L1Owner, metrics: Metrics) -> None:
        self._cache = cache
        self._metrics = metrics

    def clear_l1(self) -> int:
        dropped = self._cache.clear_l1()
        self._metrics.l1_dropped(dropped)
        self._metrics.clear("local", "ok")
        return dropped

    def stats(self) -> CacheStats:
        return self._cache.stats()


class InstrumentedInvalidator:
    """An :class:`~llmix_workers.cache.backend.Invalidator` that wraps ``inner`` (same reach).

    Counts the L1 entries dropped because the generation moved (``llmix_l1_dropped_entries_total``,
    one ``local`` clear each) and keeps ``llmix_fleet_generation`` current. The hot-path cost is
    one comparison per lookup.
    """

    def __init__(self, inner: Invalidator, metrics: Metrics) -> None:
        self.inner = inner
        self._metrics = metrics
        self._seen = -1

    def attach(self, cache: L1Owner) -> None:
        self.inner.attach(_CountingOwner(cache, self._metrics))

    def current(self) -> Stamp | None:
        stamp = self.inner.current()
        if stamp is not None and stamp.generation != self._seen:
            self._seen = stamp.generation
            self._metrics.generation(stamp.generation)
        return stamp

    def l2_blocked(self) -> bool:
        return self.inner.l2_blocked()
