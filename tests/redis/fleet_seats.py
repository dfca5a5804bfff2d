"""Fleet test seats: members, caches and a control on one private Redis, L2 in memory."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from llmix_workers.cache.backends.memory import MemoryL2
from llmix_workers.cache.tiered import TwoTierCache
from llmix_workers.fleet.answers import FleetCounts
from llmix_workers.fleet.control import FleetControl
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.fleet.member import FleetMember
from llmix_workers.settings import CacheSettings, FleetSettings
from llmix_workers.testing.relay import TcpRelay

PREFIX = "llmix:resp:v2:"
KEYS = FleetKeys.for_prefix(PREFIX)
KEY = PREFIX + "ef" * 32
#: Short fleet timings, for tests about leases and memberships running out: checks every 0.2 s,
#: leases of 0.6 s, memberships of 1 s.
FAST = FleetSettings(sync_interval_s=0.2, lease_s=0.6, member_ttl_s=1.0, clear_timeout_s=5)
#: Timings for everything else: frequent checks, and leases and memberships long enough that a
#: thread starved for seconds on a loaded machine does not lose its seat.
STEADY = FleetSettings(sync_interval_s=0.2, lease_s=4.0, member_ttl_s=6.0, clear_timeout_s=10)


def seat(
    client: redis.Redis,
    l2: MemoryL2,
    node: str,
    monotonic: Callable[[], float] = time.monotonic,
    fleet: FleetSettings = STEADY,
    counts: FleetCounts | None = None,
) -> tuple[FleetMember, TwoTierCache]:
    member = FleetMember(client, KEYS, node=node, sync_interval_s=fleet.sync_interval_s,
                         lease_s=fleet.lease_s, member_ttl_s=fleet.member_ttl_s,
                         counts=counts, monotonic=monotonic)  # fmt: skip
    cache = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=member)
    return member, cache


def control(client: redis.Redis, l2: MemoryL2, fleet: FleetSettings = STEADY) -> FleetControl:
    return FleetControl(client, l2, cache=CacheSettings(), fleet=fleet)


def client_via(relay: TcpRelay) -> redis.Redis:
    """A client whose every connection goes through ``relay`` (short timeouts, no retries)."""
    return redis.Redis(port=relay.port, socket_timeout=1.0, socket_connect_timeout=1.0,
                       retry=Retry(NoBackoff(), 0))  # fmt: skip
