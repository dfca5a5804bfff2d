"""FleetMember (the Redis Invalidator) on a private redis-server, L2 in memory: leases, checks,
stamps, and what a member does when Redis loses its data."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from llmix_workers.cache.backend import MISS
from llmix_workers.cache.backends.memory import MemoryL2
from llmix_workers.cache.tiered import CacheHit, TwoTierCache
from llmix_workers.fleet.member import FleetMember
from llmix_workers.settings import CacheSettings
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.testing.relay import TcpRelay
from llmix_workers.testing.waiting import eventually
from tests.redis.fleet_seats import FAST, KEY, KEYS, STEADY, client_via, control, seat


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    yield client
    client.close()


@pytest.fixture
def l2() -> MemoryL2:
    return MemoryL2()


@pytest.fixture
def relay(redis_server: PrivateRedis, redis_url: str) -> Iterator[TcpRelay]:
    with TcpRelay("127.0.0.1", redis_server.port) as relay:
        yield relay


def test_a_member_serves_l1_only_while_its_lease_lasts(
    relay: TcpRelay, client: redis.Redis, l2: MemoryL2
) -> None:
    """Cut off from Redis, a worker stops answering from memory once its lease (counted from
    the start of its last confirmed check) runs out, and serves again after a check succeeds."""
    clock = FakeClock(0.0)
    member, cache = seat(client_via(relay), l2, "cut", monotonic=clock, fleet=FAST)
    member.sync()
    cache.set(KEY, "cached")
    relay.cut()
    clock.tick(FAST.sync_interval_s)  # a check is due: it fails, the lease still holds
    assert isinstance(cache.get(KEY), CacheHit)
    clock.tick(FAST.lease_s)  # past the lease: no proof of being current, no answer
    assert cache.get(KEY) is MISS and member.current() is None
    assert cache.stats().misses == 1
    relay.heal()
    clock.tick(FAST.sync_interval_s)  # the next lookup checks inline, which succeeds
    assert isinstance(cache.get(KEY), CacheHit)  # same stamp: what L1 held is good again


def test_a_process_without_a_lease_stores_nothing(relay: TcpRelay, l2: MemoryL2) -> None:
    clock = FakeClock(0.0)
    member, cache = seat(client_via(relay), l2, "cut", monotonic=clock, fleet=FAST)
    member.sync()
    relay.cut()
    clock.tick(FAST.lease_s + FAST.sync_interval_s)
    assert cache.set(KEY, "computed while cut off") is False
    assert l2.count_entries(KEYS.root) == 0 and l2.get(KEY) is MISS


def test_a_moved_generation_drops_l1_and_is_published_at_once(
    client: redis.Redis, l2: MemoryL2
) -> None:
    clock = FakeClock(0.0)
    member, cache = seat(client, l2, "n1", monotonic=clock)
    member.sync()
    cache.set(KEY, "old")
    client.incr(KEYS.generation)  # a clear elsewhere
    assert member.sync() == 1  # one L1 entry dropped
    assert cache.get(KEY) is MISS and l2.get(KEY) is not MISS
    assert member.stamp is not None
    published = f"{member.stamp.tag} 1".encode()  # the stamp served, and the entries dropped
    assert client.get(KEYS.member(member.member)) == published


def test_membership_is_judged_by_redis_clock_not_the_hosts(
    client: redis.Redis, l2: MemoryL2, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker host whose wall clock runs ten minutes behind is as live as any other."""
    member, _ = seat(client, l2, "behind")
    real = time.time
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: real() - 600)
        member.sync()
    assert control(client, l2).live_members() == [member.member]
    ttl_ms = client.pttl(KEYS.member(member.member))
    assert 0 < ttl_ms <= STEADY.member_ttl_s * 1000


def test_fleet_state_lost_with_redis_is_noticed(
    redis_server: PrivateRedis, client: redis.Redis, l2: MemoryL2
) -> None:
    member, cache = seat(client, l2, "n1")
    member.sync()
    cache.set(KEY, "before the loss")
    before = member.stamp
    redis_server.kill()
    redis_server.start()  # empty: epoch, generation, flag and members are gone
    member.sync()
    assert member.stamp is not None and before is not None
    assert member.stamp.epoch != before.epoch  # a new epoch: nothing of the old one is served
    assert cache.get(KEY) is MISS  # L1 dropped, and the L2 entry carries the old epoch
    assert client.zscore(KEYS.members, member.member) is not None  # re-registered


def test_a_member_repairs_a_generation_that_went_back(client: redis.Redis, l2: MemoryL2) -> None:
    """A Redis restored from an older snapshot: same epoch, lower generation. The member that
    saw the newer generation puts it back, so entries stamped before it stay unserved."""
    member, cache = seat(client, l2, "n1")
    client.set(KEYS.generation, 7)
    member.sync()
    client.set(KEYS.generation, 5)  # rolled back
    member.sync()
    assert int(client.get(KEYS.generation) or 0) == 7
    assert member.stamp is not None and member.stamp.generation == 7


def test_a_frozen_fleet_redis_costs_one_timeout_per_interval_not_one_per_job(
    redis_server: PrivateRedis, redis_url: str, l2: MemoryL2
) -> None:
    """32 threads serving L1 hits while Redis is SIGSTOPped: the inline checks do not queue
    behind each other, and a failed check is not retried by every job."""
    client = redis.Redis.from_url(redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)
    attempts: list[float] = []

    class CountingMember(FleetMember):
        def _sync_locked(self) -> int:  # every check, inline or not
            attempts.append(time.monotonic())
            return super()._sync_locked()

    member = CountingMember(client, KEYS, node="busy", sync_interval_s=0.5, lease_s=60,
                            member_ttl_s=66)  # fmt: skip
    cache = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=member)
    member.sync()
    cache.set(KEY, "warm")
    redis_server.pause()
    try:
        time.sleep(0.6)  # the last check is stale now
        attempts.clear()
        started = time.monotonic()

        def lookups() -> None:
            for _ in range(20):
                assert isinstance(cache.get(KEY), CacheHit)  # within the lease

        threads = [threading.Thread(target=lookups) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        elapsed = time.monotonic() - started
    finally:
        redis_server.resume()
    # at most one attempt per interval while frozen (plus the one in flight at the start)
    assert 1 <= len(attempts) <= elapsed / 0.5 + 2, (len(attempts), elapsed)


def test_losing_and_regaining_the_lease_is_logged_once_each(
    relay: TcpRelay, l2: MemoryL2, caplog: pytest.LogCaptureFixture
) -> None:
    member, _ = seat(client_via(relay), l2, "cut", fleet=FAST)
    caplog.set_level(logging.WARNING, logger="llmix_workers.fleet.member")
    member.start()
    try:
        relay.cut()
        eventually(lambda: "fleet lease lost" in caplog.text, "the loss logged", timeout_s=30)
        assert member.current() is None
        relay.heal()
        eventually(lambda: "fleet lease regained" in caplog.text, "the return logged", timeout_s=30)
        assert member.current() is not None
        assert caplog.text.count("fleet lease lost") == 1
    finally:
        relay.heal()
        member.stop()
