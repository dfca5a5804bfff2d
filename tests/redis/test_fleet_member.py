"""FleetMember (the Redis Invalidator) and FleetControl on a private redis-server, L2 in memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

from llmix_workers.cache.backend import MISS, Miss
from llmix_workers.cache.backends.memory import MemoryL2
from llmix_workers.cache.tiered import CacheHit, TwoTierCache
from llmix_workers.fleet.control import FleetControl
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.fleet.member import FleetMember
from llmix_workers.fleet.view import FleetView
from llmix_workers.settings import CacheSettings, FleetSettings
from llmix_workers.telemetry.invalidator import InstrumentedInvalidator
from llmix_workers.telemetry.metrics import Metrics
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.l2_contract import entry
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.testing.waiting import eventually

PREFIX = "llmix:resp:v2:"
KEYS = FleetKeys.for_prefix(PREFIX)
KEY = PREFIX + "ef" * 32


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    # generous: a loaded machine can keep a healthy Redis from answering for a few hundred ms;
    # the tests that pause Redis make clients of their own with short timeouts
    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    yield client
    client.close()


@pytest.fixture
def l2() -> MemoryL2:
    return MemoryL2()


def seat(client: redis.Redis, l2: MemoryL2, node: str, monotonic: FakeClock | None = None
         ) -> tuple[FleetMember, TwoTierCache]:  # fmt: skip
    member = FleetMember(client, KEYS, node=node, sync_interval_s=0.2,
                         monotonic=monotonic or time.monotonic)  # fmt: skip
    cache = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=member)
    return member, cache


def control(client: redis.Redis, l2: MemoryL2) -> FleetControl:
    """A control whose clears wait up to 30 s for every member's answer (they return as soon as
    all have answered); a test that expects a silent member passes a short timeout."""
    return FleetControl(client, l2, cache=CacheSettings(), fleet=FleetSettings(clear_timeout_s=30))


def listening(client: redis.Redis, count: int) -> None:
    """Wait until ``count`` started members listen for clears: ``start()`` returns before its
    thread has subscribed, and a clear published before that is missed (the member is then
    rightly reported silent, which is not what these tests are about)."""
    eventually(lambda: subscribers(client) == count, f"{count} members subscribed")


def subscribers(client: redis.Redis) -> int:
    return int(dict(client.pubsub_numsub(KEYS.events))[KEYS.events.encode()])


def test_a_fleet_clear_empties_l2_and_every_l1_and_collects_acks(
    client: redis.Redis, l2: MemoryL2
) -> None:
    members = [seat(client, l2, f"n{i}") for i in range(3)]
    for member, cache in members:
        member.start()
        cache.set(KEY, "old")
    listening(client, 3)
    l2.set(PREFIX + "0" * 64, b"x", 60)
    l2.set("llmix:resp:" + "0" * 64, b"keep", 60)
    try:
        report = control(client, l2).clear()
        assert report.complete and report.l2_error is None
        assert [row["processes"] for row in report.nodes()] == [1, 1, 1]
        assert sum(row["dropped"] for row in report.nodes()) == 3
        assert l2.count_entries(PREFIX) == 0 and l2.count_entries("llmix:resp:") == 1
        assert all(cache.get(KEY) is not None and cache.get(KEY).__class__ is not CacheHit
                   for _, cache in members)  # fmt: skip
        assert {member.generation() for member, _ in members} == {report.generation}
    finally:
        for member, _ in members:
            member.stop()


def test_a_member_that_missed_the_broadcast_drops_l1_at_its_next_check(
    client: redis.Redis, l2: MemoryL2
) -> None:
    clock = FakeClock(0.0)
    member, cache = seat(client, l2, "asleep", monotonic=clock)
    member.sync()  # never started: no thread, no subscription
    cache.set(KEY, "old")
    assert isinstance(cache.get(KEY), CacheHit)
    report = control(client, l2).clear(timeout_s=0.5)
    assert report.silent == [member.member] and not report.complete  # named, never assumed
    assert isinstance(cache.get(KEY), CacheHit)  # its last check is still fresh
    clock.tick(1.0)  # past sync_interval_s: the next lookup re-checks inline
    assert not isinstance(cache.get(KEY), CacheHit)


def test_a_failed_l2_clear_blocks_l2_reads_fleet_wide_until_one_succeeds(
    client: redis.Redis, l2: MemoryL2
) -> None:
    member, cache = seat(client, l2, "n1")
    member.start()
    listening(client, 1)
    try:
        l2.set(KEY, b'{"data":"pre-clear","cached_at":1e12}', 60)
        l2.down = True
        report = control(client, l2).clear()
        assert not report.complete and "L2" in (report.l2_error or "")
        l2.down = False
        member.sync()
        assert cache.l2_blocked and not isinstance(cache.get(KEY), CacheHit)
        assert control(client, l2).clear().complete
        member.sync()
        assert not cache.l2_blocked
    finally:
        member.stop()


def test_fleet_state_lost_with_redis_is_noticed(
    redis_server: PrivateRedis, client: redis.Redis, l2: MemoryL2
) -> None:
    member, cache = seat(client, l2, "n1")
    member.sync()
    control(client, l2).clear(timeout_s=0.2)
    member.sync()
    assert member.generation() == 1
    cache.set(KEY, "after the clear")
    redis_server.kill()
    redis_server.start()  # empty: generation, flag and members are gone
    member.sync()
    hit = cache.get(KEY)
    assert isinstance(hit, CacheHit) and hit.tier == "l2"  # L1 was dropped, L2 is intact
    assert client.zscore(KEYS.members, member.member) is not None  # re-registered


def test_a_worker_offline_through_a_data_loss_and_a_clear_still_drops_its_l1(
    redis_server: PrivateRedis, client: redis.Redis, l2: MemoryL2
) -> None:
    """Generation 1 before the loss and generation 1 after a new clear are not the same."""
    control(client, l2).clear(timeout_s=0.2)
    asleep, cache = seat(client, l2, "asleep")
    asleep.sync()
    cache.set(KEY, "stale")
    redis_server.kill()
    redis_server.start()
    l2.set(KEY, b'{"data":"stale","cached_at":1e12}', 60)
    control(client, l2).clear(timeout_s=0.2)  # generation 1 again, on the empty Redis
    l2.set(PREFIX + "1" * 64, b"x", 60)
    asleep.sync()
    assert not isinstance(cache.get(KEY), CacheHit)


def test_a_clear_right_after_a_data_loss_waits_for_workers_to_re_register(
    redis_server: PrivateRedis, client: redis.Redis, l2: MemoryL2
) -> None:
    member, cache = seat(client, l2, "n1")
    member.start()
    listening(client, 1)
    try:
        assert control(client, l2).clear().complete
        redis_server.kill()
        redis_server.start()  # the members set is gone with the data
        report = control(client, l2).clear()
        assert [ack["node"] for ack in report.acks] == ["n1"] and report.complete
    finally:
        member.stop()


def test_a_frozen_fleet_redis_costs_one_timeout_per_interval_not_one_per_job(
    redis_server: PrivateRedis, redis_url: str, l2: MemoryL2
) -> None:
    """32 threads serving L1 hits while Redis is SIGSTOPped: the inline generation checks do
    not queue behind each other, and a failed check is not retried by every job."""
    client = redis.Redis.from_url(redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)
    attempts: list[float] = []

    class CountingMember(FleetMember):
        def _sync_locked(self) -> None:  # every Redis round trip of a check, inline or not
            attempts.append(time.monotonic())
            super()._sync_locked()

    member = CountingMember(client, KEYS, node="busy", sync_interval_s=0.5)
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
                assert isinstance(cache.get(KEY), CacheHit)

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


def test_a_producer_view_follows_the_fleet_without_joining_it(
    redis_server: PrivateRedis, client: redis.Redis, l2: MemoryL2
) -> None:
    short = redis.Redis.from_url(redis_server.url, socket_timeout=0.5)  # it meets a paused Redis
    view = FleetView(short, KEYS)
    cache = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=view)
    keys = [entry(PREFIX, n) for n in range(4)]
    for key in keys[:2]:
        l2.set(key, b'{"data":"cached","cached_at":1e12}', 60)
    found = cache.get_many(keys)
    assert [hit.tier if isinstance(hit, CacheHit) else None for hit in found] == [
        "l2", "l2", None, None,
    ]  # fmt: skip
    assert client.zcard(KEYS.members) == 0  # never a member
    client.set(KEYS.blocked, "clear-in-progress")  # a clear started: flag and generation move
    client.incr(KEYS.generation)
    assert cache.get_many(keys) == [MISS] * 4  # blocked: nothing, not even what L1 had
    client.delete(KEYS.blocked)
    redis_server.pause()
    try:
        assert cache.get_many(keys[2:]) == [MISS, MISS]  # unreadable fleet state: no L2
    finally:
        redis_server.resume()
        short.close()


def test_a_clear_landing_during_a_batch_lookup_drops_its_hits(client: redis.Redis) -> None:
    class ClearingL2(MemoryL2):
        def get_many(self, keys: Sequence[str]) -> list[bytes | Miss]:
            found = super().get_many(keys)
            client.incr(KEYS.generation)  # a fleet clear completes meanwhile
            return found

    l2 = ClearingL2()
    l2.set(entry(PREFIX, 1), b'{"data":"pre-clear","cached_at":1e12}', 60)
    cache = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=FleetView(client, KEYS))
    assert cache.get_many([entry(PREFIX, 1)]) == [MISS]
    assert cache.get(entry(PREFIX, 1)) is not MISS  # the entry itself is fine afterwards


def test_each_clear_result_is_taken_by_exactly_one_counting_member(
    client: redis.Redis, l2: MemoryL2
) -> None:
    taken: list[tuple[str, str]] = []
    members = [seat(client, l2, f"c{i}")[0] for i in range(3)]
    for member in members[:2]:  # the third has no metrics: it takes nothing
        member.on_clear_result = lambda result, node=member.node: taken.append((node, result))
    for member in members:
        member.sync()
    clearing = control(client, l2)
    assert clearing.clear(timeout_s=0.2).result == "incomplete"  # nobody listens: no acks
    l2.down = True
    assert clearing.clear(timeout_s=0.2).result == "failed"
    l2.down = False
    members[2].sync()
    assert taken == [] and client.llen(KEYS.clear_results) == 2
    for member in members:
        member.sync()
    assert sorted(result for _, result in taken) == ["failed", "incomplete"]
    assert client.llen(KEYS.clear_results) == 0
    for member in members:
        member.sync()
    assert len(taken) == 2


class CheckedFirst(FleetMember):
    """A member whose regular check sees a clear's new generation before its broadcast arrives
    (a loaded machine's order): it checks once more right before handling any event."""

    def _handle(self, event: dict[str, Any]) -> None:
        self.sync()
        super()._handle(event)


def test_a_clear_seen_first_by_a_check_is_counted_once(client: redis.Redis, l2: MemoryL2) -> None:
    registry = CollectorRegistry()
    member = CheckedFirst(client, KEYS, node="n1", sync_interval_s=0.2)
    cache = TwoTierCache("redis", CacheSettings(), l2=l2,
                         invalidator=InstrumentedInvalidator(member, Metrics(registry)))  # fmt: skip
    labels = {"scope": "local", "result": "ok"}

    def local_clears() -> float:
        return registry.get_sample_value("llmix_cache_clears_total", labels) or 0.0

    member.start()  # adopting the first generation counts as a local clear already
    listening(client, 1)
    try:
        cache.set(KEY, "old")
        before = local_clears()
        report = control(client, l2).clear()
        after = local_clears()
    finally:
        member.stop()
    assert report.complete and report.acks[0]["dropped"] == 1
    assert not isinstance(cache.get(KEY), CacheHit)
    assert after - before == 1  # one clear, counted once
