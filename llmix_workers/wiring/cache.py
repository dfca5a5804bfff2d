"""The response cache from settings: its L2 backend (of the URL's topology), the cache itself,
and a producer's cache-first lookup. The cache package knows nothing of settings; this does."""

from __future__ import annotations

from typing import Any

from llmix_workers.cache.backend import Invalidator, L2Backend
from llmix_workers.cache.backends.redis import RedisL2
from llmix_workers.cache.backends.redis_cluster import RedisClusterL2
from llmix_workers.cache.strategy import resolve_response_cache_strategy
from llmix_workers.cache.tiered import TwoTierCache
from llmix_workers.errors import L2Unavailable
from llmix_workers.fleet.answers import AnswerLog
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.fleet.view import FleetView
from llmix_workers.jobs.cache_first import CacheFirst
from llmix_workers.settings import RedisSettings, Settings
from llmix_workers.settings.sizing import sized_redis
from llmix_workers.topology.outage import Outage
from llmix_workers.topology.url import parse_redis_url
from llmix_workers.wiring.hooks import Hooks, NoHooks
from llmix_workers.wiring.redis import redis_for


def l2_backend(redis: RedisSettings, *, socket_timeout_s: float | None = None) -> L2Backend:
    """The L2 backend of ``redis.url``'s topology: :class:`RedisClusterL2` for a cluster,
    :class:`RedisL2` otherwise (standalone or Sentinel), with the section's timeouts (the
    socket timeout replaced by ``socket_timeout_s`` when given) and pool size (a worker passes
    the section sized for its concurrency: :func:`cache_redis`). Nothing connects yet.

    Raises:
        L2Unavailable: no Redis URL is configured.
    """
    if redis.url is None:
        raise L2Unavailable("no Redis URL is configured")
    url = redis.url.get_secret_value()
    backend = RedisClusterL2 if parse_redis_url(url).kind == "cluster" else RedisL2
    return backend(url, **l2_options(redis, socket_timeout_s=socket_timeout_s))


def cache_redis(settings: Settings) -> RedisSettings:
    """The ``[redis]`` section with ``max_connections`` worked out from the worker's
    concurrency when unset (every task thread keeps an L2 connection)."""
    return sized_redis(settings.redis, settings.worker)


def l2_options(redis: RedisSettings, *, socket_timeout_s: float | None = None) -> dict[str, Any]:
    """The keyword arguments of :class:`RedisL2` and :class:`RedisClusterL2` from the
    ``[redis]`` section (``RedisL2(url, **l2_options(RedisSettings()))`` for the defaults)."""
    timeout_s = redis.socket_timeout_s if socket_timeout_s is None else socket_timeout_s
    return {"socket_timeout_s": timeout_s, "connect_timeout_s": redis.connect_timeout_s,
            "max_connections": redis.max_connections, "protocol": redis.protocol}  # fmt: skip


def build_response_cache(
    settings: Settings,
    *,
    l2: L2Backend | None = None,
    invalidator: Invalidator | None = None,
    hooks: Hooks | None = None,
    outage: Outage | None = None,
) -> TwoTierCache | None:
    """The process's TwoTierCache, or ``None`` when the strategy skips the response cache.

    ``l2`` replaces the backend of the Redis URL (tests pass a ``MemoryL2``); ``hooks`` may
    wrap it (telemetry counts errors and traces calls); ``outage`` is shared with the other
    parts on the same Redis. No connection is made here; the first lookup connects.

    Raises:
        ConfigError: strategy ``redis`` without a Redis URL, or an unknown strategy.
    """
    strategy = resolve_response_cache_strategy(settings.cache.strategy, settings.redis_url)
    if strategy is None:
        return None
    if strategy != "memory" and l2 is None:
        l2 = l2_backend(cache_redis(settings))
    if l2 is not None:
        l2 = (hooks or NoHooks()).wrap_l2(l2)
    return TwoTierCache(strategy, settings.cache, l2=l2, invalidator=invalidator, outage=outage)


def build_cache_first(settings: Settings) -> CacheFirst | None:
    """The producer's batch lookup, or ``None`` when it is off (``producer.cache_first``), the
    strategy keeps no shared L2, or no Redis is configured. What it answers is listed for the
    fleet's metrics (:class:`~llmix_workers.fleet.answers.AnswerLog`)."""
    strategy = resolve_response_cache_strategy(settings.cache.strategy, settings.redis_url)
    if not settings.producer.cache_first or strategy not in ("redis", "redis-or-memory"):
        return None
    if not settings.redis_url or not settings.fleet_redis_url:
        return None
    keys = FleetKeys.for_prefix(settings.cache.key_prefix)
    fleet = redis_for(settings, "fleet")
    cache = TwoTierCache(strategy, settings.cache, l2=l2_backend(cache_redis(settings)),
                         invalidator=FleetView(fleet, keys))  # fmt: skip
    return CacheFirst(cache, answers=AnswerLog(fleet, keys))
