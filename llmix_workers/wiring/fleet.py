"""Fleet parts from settings: a worker process's seat (member and lock) and a FleetControl."""

from __future__ import annotations

from llmix_workers.cache.tiered import CacheHit
from llmix_workers.fleet.answers import FleetCounts
from llmix_workers.fleet.control import FleetControl
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.fleet.lock import FleetLock
from llmix_workers.fleet.member import Describe, FleetMember
from llmix_workers.settings import Settings
from llmix_workers.topology.outage import Outage
from llmix_workers.wiring.cache import cache_redis, l2_backend
from llmix_workers.wiring.redis import CONTROL_TIMEOUT_S, redis_for


def fleet_seat(
    settings: Settings,
    node: str,
    *,
    describe: Describe | None = None,
    counts: FleetCounts | None = None,
    outage: Outage | None = None,
) -> tuple[FleetMember, FleetLock[CacheHit]] | None:
    """This process's :class:`FleetMember` (not started) and :class:`FleetLock` on one
    ``fleet`` client, or ``None`` when no Redis holds fleet state. ``outage`` is shared by both
    (and by the cache when its Redis is the same)."""
    if not settings.fleet_redis_url:
        return None
    client = redis_for(settings, "fleet")
    keys = FleetKeys.for_prefix(settings.cache.key_prefix)
    fleet = settings.fleet
    member = FleetMember(client, keys, node=node, sync_interval_s=fleet.sync_interval_s,
                         lease_s=fleet.lease_s, member_ttl_s=fleet.member_ttl_s,
                         describe=describe, counts=counts, outage=outage)  # fmt: skip
    lock: FleetLock[CacheHit] = FleetLock(client, keys, ttl_s=fleet.lock_ttl_s,
                                          wait_s=fleet.lock_wait_s, poll_s=fleet.lock_poll_s,
                                          outage=outage)  # fmt: skip
    return member, lock


def build_fleet_control(settings: Settings) -> FleetControl:
    """A FleetControl on the fleet's Redis (``control`` role) and the cache's L2, both with
    :data:`~llmix_workers.wiring.redis.CONTROL_TIMEOUT_S` replies.

    Raises:
        ConfigError: no Redis URL is configured.
    """
    client = redis_for(settings, "control")
    l2 = l2_backend(cache_redis(settings), socket_timeout_s=CONTROL_TIMEOUT_S)
    return FleetControl(client, l2, cache=settings.cache, fleet=settings.fleet)
