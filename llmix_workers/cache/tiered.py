"""TwoTierCache: L1 (this process) then L2 (shared), with the LLMix health and clear rules.

Policy only: lookup order, back-fill, TTLs, health and the blocked-after-failed-clear rule. The
storage is a :class:`~llmix_workers.cache.local.LocalLRU` and any
:class:`~llmix_workers.cache.backend.L2Backend`. An L2 outage is a miss, never an exception out
of :meth:`get` or :meth:`set`; after three consecutive failed writes L2 is unhealthy and is left
alone for ``l2_cooloff_s``, then probed once per cool-off until a write succeeds. Whether L1 may
still be served and L2 read is the :class:`~llmix_workers.cache.backend.Invalidator`'s call:
it hands out the :class:`~llmix_workers.cache.stamp.Stamp` this process may serve under, or
``None`` when the process cannot prove it is current (then every lookup is a miss and nothing is
stored). L2 entries carry the stamp's tag and a lookup skips older ones. L1 holds entries of
one stamp: when the stamp moves, the invalidator first moves it, then has the whole L1 replaced
by an empty one. A lookup reads the stamp, then takes the L1; a back-fill or a write checks the
stamp again before it stores into the L1 it took: if the stamp moved before that check, it
stores nothing, and if it moves after, the entry lands in the discarded L1.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from llmix_workers.cache.backend import MISS, Invalidator, L2Backend, Miss
from llmix_workers.cache.backends.null import NullL2
from llmix_workers.cache.config import CacheConfig
from llmix_workers.cache.entry import Entry, decode_entry, encode_entry
from llmix_workers.cache.health import L2Health
from llmix_workers.cache.hit import MAX_ENTRY_TTL_S, CacheHit, CacheTier, ClearResult, entry_ttl
from llmix_workers.cache.invalidation import LocalInvalidator, clear_entries
from llmix_workers.cache.local import LocalLRU
from llmix_workers.cache.stamp import STAMP_FIELD, Stamp
from llmix_workers.cache.stats import CacheStats
from llmix_workers.cache.strategy import ResponseCacheStrategy
from llmix_workers.errors import ConfigError, L2Unavailable
from llmix_workers.topology.outage import Outage

logger = logging.getLogger(__name__)

__all__ = ["MAX_ENTRY_TTL_S", "CacheHit", "CacheTier", "ClearResult", "TwoTierCache"]


class TwoTierCache:
    """L1 LRU + TTL in this process over a shared L2; safe to call from many threads."""

    def __init__(
        self,
        strategy: ResponseCacheStrategy,
        config: CacheConfig,
        *,
        l2: L2Backend | None = None,
        invalidator: Invalidator | None = None,
        outage: Outage | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if config.ttl_s < 1:
            raise ConfigError(f"ttl_s must be at least 1 second, got {config.ttl_s}")
        if strategy == "memory":
            l2 = NullL2()
        elif l2 is None or not l2.enabled:
            raise ConfigError(f'cache strategy "{strategy}" needs an L2 backend')
        self.strategy: ResponseCacheStrategy = strategy
        self.ttl_s = config.ttl_s
        self.key_prefix = config.key_prefix
        self._l1: LocalLRU[CacheHit] = LocalLRU(config.l1_max_entries, clock)
        self._l2: L2Backend = l2
        self._cooloff_s = config.l2_cooloff_s
        self._max_entry_bytes = config.l2_max_entry_bytes
        self._clear_batch_size = config.clear_batch_size
        self._invalidator: Invalidator = invalidator or LocalInvalidator()
        self._invalidator.attach(self)
        self._current = self._invalidator.current
        self._clears = 0
        self._clock = clock
        self._monotonic = monotonic
        self._health = L2Health(config.l2_cooloff_s, monotonic, outage)
        self._blocked = False
        self.l1_hits = self.l2_hits = self.misses = 0

    @property
    def l2(self) -> L2Backend:
        return self._l2

    @property
    def invalidator(self) -> Invalidator:
        return self._invalidator

    @property
    def l2_readable(self) -> bool:
        """L2 is on, available (healthy, not in a timeout's cool-off) and not blocked, and this
        process may serve: a lookup now may find what another process wrote, and an answer
        made now would be written there for others to find."""
        return (
            self._l2.enabled
            and self._health.available
            and not self._blocked
            and not self._invalidator.l2_blocked()
            and self._current() is not None
        )

    @property
    def l2_blocked(self) -> bool:
        """L2 reads are blocked: by this cache's failed clear, or by the fleet."""
        return self._blocked or self._invalidator.l2_blocked()

    def epoch(self) -> tuple[Stamp | None, int]:
        """Where this cache stands now (stamp, local clears); hand it to :meth:`set` to drop an
        answer computed across a clear (or while this process could not prove it is current)."""
        return self._current(), self._clears

    def get(self, key: str, *, record: bool = True) -> CacheHit | Miss:
        """L1, then L2 (back-filling L1 with the entry's original ``cached_at``), else ``MISS``.

        ``record=False`` leaves the hit/miss counters alone (for polling while waiting).
        """
        stamp = self._current()  # a moved stamp replaces L1 first
        if stamp is None:
            self.misses += record
            return MISS
        l1 = self._l1  # taken after the stamp: see the module docstring
        hit = l1.get(key)
        if hit is not MISS:
            self.l1_hits += record
            return hit
        clears = self._clears  # a local clear moves it before it replaces L1
        if self._blocked or self._invalidator.l2_blocked() or not self._health.usable():
            self.misses += record
            return MISS
        try:
            raw = self._l2.get(key)
        except L2Unavailable as exc:
            self._health.read_failed(exc)
            self.misses += record
            return MISS
        self._health.answered()
        admitted = self._admit(raw, stamp)
        if admitted is None:
            self.misses += record
            return MISS
        self._fill(l1, (stamp, clears), [(key, admitted)])
        self.l2_hits += record
        return admitted[0]

    def get_many(self, keys: Sequence[str]) -> list[CacheHit | Miss]:
        """:meth:`get` for a batch: L1 first, then every L1 miss in one pipelined L2 round
        trip. When the generation moves or L2 gets blocked during the lookup (a clear landed),
        every L2 hit is dropped: nothing from before a clear is returned."""
        epoch = self.epoch()
        stamp = epoch[0]
        if stamp is None:
            self.misses += len(keys)
            return [MISS] * len(keys)
        l1 = self._l1
        found: list[CacheHit | Miss] = [l1.get(key) for key in keys]
        missing = [index for index, hit in enumerate(found) if hit is MISS]
        if missing and not self.l2_blocked and self._health.usable():
            try:
                raws = self._l2.get_many([keys[index] for index in missing])
            except L2Unavailable as exc:
                self._health.read_failed(exc)
            else:
                self._health.answered()
                admitted = [(keys[i], self._admit(raw, stamp))
                            for i, raw in zip(missing, raws, strict=True)]  # fmt: skip
                if self._fill(l1, epoch, admitted):
                    for index, (_, hit) in zip(missing, admitted, strict=True):
                        found[index] = hit[0] if hit is not None else MISS
        hits = sum(hit is not MISS for hit in found)
        self.l2_hits += sum(hit is not MISS and hit.tier == "l2" for hit in found)
        self.l1_hits += hits - sum(hit is not MISS and hit.tier == "l2" for hit in found)
        self.misses += len(keys) - hits
        return found

    def _admit(self, raw: bytes | Miss, stamp: Stamp) -> tuple[CacheHit, float] | None:
        """An L2 answer as a hit and when it expires, or ``None`` when absent, malformed, too
        large, expired or written under a stamp older than ``stamp``."""
        entry = None
        if raw is not MISS and len(raw) <= self._max_entry_bytes:
            entry = decode_entry(raw, self._clock())
        if entry is None:
            return None
        extra = entry.extra
        if extra is not None and not stamp.admits(extra.get(STAMP_FIELD)):
            return None
        expires_at = entry.cached_at + entry_ttl(entry, self.ttl_s)
        if not self._clock() < expires_at:  # NaN-safe: anything odd is expired
            return None
        return CacheHit(entry.data, "l2", entry.cached_at, extra), expires_at

    def _fill(
        self,
        l1: LocalLRU[CacheHit],
        epoch: tuple[Stamp | None, int],
        admitted: Sequence[tuple[str, tuple[CacheHit, float] | None]],
    ) -> bool:
        """Back-fill ``l1`` (taken after ``epoch`` was read) with what L2 gave, if this cache
        still stands at ``epoch`` and L2 is not blocked; False (nothing stored) otherwise. A
        move after this check replaces L1, so these entries land in the discarded one."""
        if self.epoch() != epoch or self.l2_blocked:
            return False
        for key, hit in admitted:
            if hit is not None:
                l1.put(key, hit[0]._replace(tier="l1"), hit[1])
        return True

    def set(
        self,
        key: str,
        value: str,
        *,
        ttl_s: int | None = None,
        extra: Mapping[str, Any] | None = None,
        epoch: tuple[Stamp | None, int] | None = None,
    ) -> bool:
        """Store ``value`` in L1 and, best effort, in L2 for ``ttl_s`` (default: the cache TTL).

        ``extra`` fields go into the L2 entry beside ``data`` and ``cached_at``, and the stamp's
        tag as ``fleet_gen``. With ``epoch`` (from :meth:`epoch` before the answer was computed),
        nothing is stored when a clear happened since; nothing is stored either while this
        process cannot prove it is current. The return value says whether the value was stored.
        """
        now_epoch = self.epoch()
        stamp = now_epoch[0]
        if stamp is None or (epoch is not None and epoch != now_epoch):
            logger.info("answer computed across a cache clear (or while not current): not stored")
            return False
        l1 = self._l1
        ttl = self.ttl_s if ttl_s is None else max(1, int(ttl_s))
        now = self._clock()
        fields = dict(extra) if extra else {}
        if ttl != self.ttl_s:
            fields["ttl_s"] = ttl
        if stamp.tag is not None:
            fields[STAMP_FIELD] = stamp.tag
        if self.epoch() == now_epoch:  # else a move replaced L1 meanwhile: see _fill
            l1.put(key, CacheHit(value, "l1", now, fields or None), now + ttl)
        if not self._l2.enabled or not self._health.usable():
            return True
        payload = encode_entry(Entry(value, now, fields))
        if len(payload) > self._max_entry_bytes:
            logger.warning("response of %d bytes not written to L2 (limit %d)",
                           len(payload), self._max_entry_bytes)  # fmt: skip
            return True
        try:
            self._l2.set(key, payload, ttl)
        except L2Unavailable as exc:
            self._health.write_failed(exc)
        else:
            self._health.write_succeeded()
        return True

    def clear(self) -> ClearResult:
        """Empty L1, then delete every L2 key under the prefix (SCAN + UNLINK in batches).

        L2 reads are blocked from the start of the L2 part until it succeeds, so nothing from
        before the clear is served meanwhile. Thread scope: this process's L1 only; fleet-wide
        clears go through :mod:`llmix_workers.fleet`.

        Raises:
            ClearFailed: the L2 part failed; L2 reads stay blocked until a later clear succeeds.
        """
        self._clears += 1
        dropped = self.clear_l1()
        if not self._l2.enabled:
            return ClearResult(dropped, 0)
        deleted = clear_entries(self._l2, self.key_prefix, self._clear_batch_size, self._block)
        return ClearResult(dropped, deleted)

    def clear_l1(self) -> int:
        """Replace this process's L1 by an empty one; return how many entries it held."""
        old, self._l1 = self._l1, LocalLRU(self._l1.max_entries, self._clock)
        return len(old)

    def _block(self, blocked: bool) -> None:
        self._blocked = blocked

    def stats(self) -> CacheStats:
        stamp = self._current()
        return CacheStats(
            l1_size=len(self._l1),
            l1_max=self._l1.max_entries,
            l2_enabled=self._l2.enabled,
            l2_healthy=self._health.available,
            strategy=self.strategy,
            l2_blocked=self._blocked or self._invalidator.l2_blocked(),
            l1_hits=self.l1_hits,
            l2_hits=self.l2_hits,
            misses=self.misses,
            l2_errors=self._health.errors,
            generation=stamp.generation if stamp is not None else None,
        )

    def close(self) -> None:
        """Drop L1 and release L2 connections; the cache is not used afterwards."""
        self._l1.clear()
        self._l2.close()
