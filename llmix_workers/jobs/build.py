"""The composition from settings: the response cache, its fleet seat and lock, a FleetControl.

The only place where a :class:`~llmix_workers.settings.Settings` becomes cache and fleet objects;
the cache package itself knows nothing of settings.
"""

from __future__ import annotations

from llmix_workers.cache.backend import Invalidator, L2Backend
from llmix_workers.cache.backends.redis import RedisL2
from llmix_workers.cache.strategy import resolve_response_cache_strategy
from llmix_workers.cache.tiered import CacheHit, TwoTierCache
from llmix_workers.fleet.client import fleet_client
from llmix_workers.fleet.control import FleetControl
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.fleet.lock import FleetLock
from llmix_workers.fleet.member import FleetMember
from llmix_workers.fleet.view import FleetView
from llmix_workers.jobs.cache_first import CacheFirst
from llmix_workers.settings import Settings
from llmix_workers.settings.sizing import sized_redis
from llmix_workers.telemetry.instrumented import InstrumentedL2
from llmix_workers.telemetry.metrics import Metrics


def build_response_cache(
    settings: Settings,
    *,
    l2: L2Backend | None = None,
    invalidator: Invalidator | None = None,
    metrics: Metrics | None = None,
) -> TwoTierCache | None:
    """The process's TwoTierCache, or ``None`` when the strategy skips the response cache.

    ``l2`` replaces the Redis backend (tests pass a ``MemoryL2``). With ``metrics`` the L2 is
    wrapped in an :class:`InstrumentedL2` (errors counted, calls traced when sampled). No
    connection is made here; the first lookup connects.

    Raises:
        ConfigError: strategy ``redis`` without a Redis URL, or an unknown strategy.
    """
    strategy = resolve_response_cache_strategy(settings.cache.strategy, settings.redis_url)
    if strategy is None:
        return None
    if strategy != "memory" and l2 is None:
        l2 = RedisL2.from_settings(sized_redis(settings.redis, settings.worker))
    if l2 is not None and metrics is not None:
        l2 = InstrumentedL2(l2, metrics)
    return TwoTierCache(strategy, settings.cache, l2=l2, invalidator=invalidator)


def build_fleet_seat(
    settings: Settings, node: str
) -> tuple[FleetMember, FleetLock[CacheHit]] | None:
    """This process's :class:`FleetMember` (not started) and :class:`FleetLock`, or ``None``
    when no Redis holds fleet state."""
    if not settings.fleet_redis_url:
        return None
    client = fleet_client(settings)
    keys = FleetKeys.for_prefix(settings.cache.key_prefix)
    fleet = settings.fleet
    member = FleetMember(client, keys, node=node, sync_interval_s=fleet.sync_interval_s,
                         lease_s=fleet.lease_s, member_ttl_s=fleet.member_ttl_s)  # fmt: skip
    lock: FleetLock[CacheHit] = FleetLock(
        client, keys, ttl_s=fleet.lock_ttl_s, wait_s=fleet.lock_wait_s, poll_s=fleet.lock_poll_s
    )
    return member, lock


def build_fleet_control(settings: Settings, *, socket_timeout_s: float = 5.0) -> FleetControl:
    """A FleetControl on the fleet's Redis and the cache's L2.

    Raises:
        ConfigError: no Redis URL is configured.
    """
    client = fleet_client(settings, socket_timeout_s=socket_timeout_s)
    redis = sized_redis(settings.redis, settings.worker)
    redis = redis.model_copy(update={"socket_timeout_s": socket_timeout_s})
    l2 = RedisL2.from_settings(redis)
    return FleetControl(client, l2, cache=settings.cache, fleet=settings.fleet)


def build_cache_first(settings: Settings) -> CacheFirst | None:
    """The producer's batch lookup, or ``None`` when it is off (``producer.cache_first``), the
    strategy keeps no shared L2, or no Redis is configured."""
    strategy = resolve_response_cache_strategy(settings.cache.strategy, settings.redis_url)
    if not settings.producer.cache_first or strategy not in ("redis", "redis-or-memory"):
        return None
    if not settings.redis_url or not settings.fleet_redis_url:
        return None
    view = FleetView(fleet_client(settings), FleetKeys.for_prefix(settings.cache.key_prefix))
    l2 = RedisL2.from_settings(sized_redis(settings.redis, settings.worker))
    return CacheFirst(TwoTierCache(strategy, settings.cache, l2=l2, invalidator=view))
