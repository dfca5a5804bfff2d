"""Build the response cache a :class:`~llmix_workers.settings.Settings` describes."""

from __future__ import annotations

from llmix_workers.cache.backend import L2Backend
from llmix_workers.cache.backends.redis import RedisL2
from llmix_workers.cache.strategy import resolve_response_cache_strategy
from llmix_workers.cache.tiered import TwoTierCache
from llmix_workers.settings import Settings


def build_response_cache(settings: Settings, *, l2: L2Backend | None = None) -> TwoTierCache | None:
    """The process's TwoTierCache, or ``None`` when the strategy skips the response cache.

    ``l2`` replaces the Redis backend (tests pass a ``MemoryL2``). No connection is made here;
    the first lookup connects.

    Raises:
        ConfigError: strategy ``redis`` without a Redis URL, or an unknown strategy.
    """
    strategy = resolve_response_cache_strategy(settings.cache.strategy, settings.redis_url)
    if strategy is None:
        return None
    if strategy != "memory" and l2 is None:
        l2 = RedisL2.from_settings(settings.redis)
    cache = settings.cache
    return TwoTierCache(
        strategy,
        l2=l2,
        ttl_s=cache.ttl_s,
        l1_max_entries=cache.l1_max_entries,
        l2_cooloff_s=cache.l2_cooloff_s,
        l2_max_entry_bytes=cache.l2_max_entry_bytes,
        key_prefix=cache.key_prefix,
        clear_batch_size=cache.clear_batch_size,
    )
