"""CacheHit: a cached response as a lookup returns it; ClearResult; the per-entry TTL rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, NamedTuple

from llmix_workers.cache.entry import Entry

CacheTier = Literal["l1", "l2"]
#: The longest per-entry TTL a reader honours (a year); a larger ``ttl_s`` is malformed.
MAX_ENTRY_TTL_S: Final = 365 * 24 * 3600


class CacheHit(NamedTuple):
    """A cached response: the raw text, where it was found, when it was first stored."""

    value: str
    tier: CacheTier
    cached_at: float
    #: Fields the writer added to the L2 entry besides ``data``/``cached_at`` (``usage``…).
    extra: Mapping[str, Any] | None = None


class ClearResult(NamedTuple):
    """What a successful :meth:`TwoTierCache.clear` removed."""

    l1_dropped: int
    l2_deleted: int


def entry_ttl(entry: Entry, default_s: int) -> float:
    """The writer's own TTL when it recorded one (``ttl_s``), else the cache's."""
    ttl = entry.extra.get("ttl_s") if entry.extra else None
    if ttl.__class__ is int and 0 < ttl <= MAX_ENTRY_TTL_S:
        return float(ttl)
    return float(default_s)
