"""A hung Redis costs a job one timeout at most, and the L2 gauge says so (issue 21, defect 5).

A cache and fleet seat built as a worker process builds them (one Redis for L2 and fleet state,
the default), talking through a relay whose link is then cut: every request sent while it is cut
waits for its socket timeout, and the relay counts them. Before: a job paid the member's inline
check, the L2 lookup and the fleet lock (three timeouts), and ``stats().l2_healthy`` (the
``llmix_l2_healthy`` gauge) stayed true, so its alert never fired.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmix_workers.cache.tiered import CacheHit, TwoTierCache
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.fleet.lock import FleetLock
from llmix_workers.fleet.member import FleetMember
from llmix_workers.jobs.job import CompletionJob
from llmix_workers.jobs.service import CompletionService
from llmix_workers.settings import Settings, load_settings
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.fake_client import FakeClient
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.testing.relay import TcpRelay
from llmix_workers.topology.outage import Outage
from llmix_workers.wiring.cache import l2_backend
from llmix_workers.wiring.redis import redis_for

COOLOFF_S = 30.0


def job(text: str) -> CompletionJob:
    return CompletionJob.from_payload(
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": text}],
        }
    )


@pytest.fixture
def relay(redis_url: str, redis_server: PrivateRedis) -> Iterator[TcpRelay]:
    with TcpRelay("127.0.0.1", redis_server.port) as link:
        yield link


@pytest.fixture
def settings(relay: TcpRelay) -> Settings:
    return load_settings(
        redis={"url": f"redis://127.0.0.1:{relay.port}/0", "socket_timeout_s": 0.3,
               "connect_timeout_s": 0.3},
        cache={"l2_cooloff_s": COOLOFF_S},
        fleet={"sync_interval_s": 1.0, "lease_s": 60.0, "member_ttl_s": 70.0},
    )  # fmt: skip


def worker_parts(settings: Settings, clock: FakeClock) -> tuple[CompletionService, TwoTierCache]:
    """What ``wiring.worker.wire_worker`` builds, on a hand-cranked clock and without the
    member's background thread (so every Redis request comes from the job)."""
    outage = Outage(COOLOFF_S, clock)  # one Redis for L2 and fleet state: one outage
    client = redis_for(settings, "fleet")
    keys = FleetKeys.for_prefix(settings.cache.key_prefix)
    fleet = settings.fleet
    member = FleetMember(client, keys, node="frozen", sync_interval_s=fleet.sync_interval_s,
                         lease_s=fleet.lease_s, member_ttl_s=fleet.member_ttl_s, outage=outage,
                         monotonic=clock)  # fmt: skip
    lock: FleetLock[CacheHit] = FleetLock(client, keys, ttl_s=fleet.lock_ttl_s,
                                          wait_s=fleet.lock_wait_s, poll_s=fleet.lock_poll_s,
                                          outage=outage, monotonic=clock)  # fmt: skip
    cache = TwoTierCache("redis", settings.cache, l2=l2_backend(settings.redis),
                         invalidator=member, outage=outage, monotonic=clock)  # fmt: skip
    return CompletionService(cache, FakeClient(), worker="frozen", fleet_lock=lock), cache


def test_a_hung_redis_costs_a_job_one_timeout_and_drops_the_l2_gauge(
    settings: Settings, relay: TcpRelay, clock: FakeClock
) -> None:
    service, cache = worker_parts(settings, clock)
    assert service.complete(job("before the hang"))["cacheHit"] is None
    assert cache.stats().l2_healthy and relay.dropped == 0
    clock.tick(2)  # the member's check is due again: the next lookup makes it inline
    relay.cut()
    output = service.complete(job("the first job after the hang"))
    assert output["content"].endswith("the first job after the hang")
    assert relay.dropped == 1  # one request waited for its timeout, then nothing was tried
    assert not cache.stats().l2_healthy  # the gauge drops at once, within the cool-off
    service.complete(job("another job during the hang"))
    assert relay.dropped == 1  # the hung Redis is left alone during the cool-off
    relay.heal()
    clock.tick(COOLOFF_S)
    service.complete(job("after the hang"))
    assert cache.stats().l2_healthy and relay.dropped == 1
