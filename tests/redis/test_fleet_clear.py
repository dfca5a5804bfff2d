"""FleetControl's clear on a private redis-server, members in this process, L2 in memory: what
"complete" promises, and each way it was broken before leases and stamps."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

from llmix_workers.cache.backend import MISS, Miss
from llmix_workers.cache.backends.memory import MemoryL2
from llmix_workers.cache.tiered import CacheHit, TwoTierCache
from llmix_workers.fleet.answers import Answered
from llmix_workers.fleet.member import FleetMember
from llmix_workers.fleet.view import FleetView
from llmix_workers.settings import CacheSettings, FleetSettings
from llmix_workers.telemetry.invalidator import InstrumentedInvalidator
from llmix_workers.telemetry.metrics import Metrics
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.l2_contract import entry
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.testing.relay import TcpRelay
from llmix_workers.testing.waiting import eventually
from tests.redis.fleet_seats import FAST, KEY, KEYS, PREFIX, STEADY, client_via, control, seat


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    yield client
    client.close()


@pytest.fixture
def l2() -> MemoryL2:
    return MemoryL2()


def test_a_fleet_clear_empties_l2_and_every_l1_and_collects_acks(
    client: redis.Redis, l2: MemoryL2
) -> None:
    members = [seat(client, l2, f"n{i}") for i in range(3)]
    for member, cache in members:
        member.start()
        cache.set(KEY, "old")
    l2.set(PREFIX + "0" * 64, b"x", 60)
    l2.set("llmix:resp:" + "0" * 64, b"keep", 60)
    try:
        report = control(client, l2).clear()
        assert report.complete and report.l2_error is None and report.unproven is None
        assert [row["processes"] for row in report.nodes()] == [1, 1, 1]
        assert sum(row["dropped"] for row in report.nodes()) == 3
        assert l2.count_entries(PREFIX) == 0 and l2.count_entries("llmix:resp:") == 1
        assert all(cache.get(KEY) is MISS for _, cache in members)
        assert {member.generation for member, _ in members} == {report.generation}
    finally:
        for member, _ in members:
            member.stop()


def test_a_member_that_missed_the_broadcast_is_waited_for_then_drops_l1_at_its_next_check(
    client: redis.Redis, l2: MemoryL2
) -> None:
    clock = FakeClock(0.0)
    member, cache = seat(client, l2, "asleep", monotonic=clock)
    member.sync()  # never started: no thread, no subscription
    cache.set(KEY, "old")
    report = control(client, l2).clear(timeout_s=0.3)  # less than its membership has left
    assert report.silent == [member.member] and not report.complete  # named, never assumed
    assert isinstance(cache.get(KEY), CacheHit)  # its last check is fresh: a clear in flight
    clock.tick(FAST.sync_interval_s)  # the next lookup checks inline
    assert cache.get(KEY) is MISS


def test_a_clear_waits_for_a_cut_off_worker_until_its_lease_has_certainly_run_out(
    redis_server: PrivateRedis, client: redis.Redis, l2: MemoryL2
) -> None:
    """Defect 1 of the partition: a worker cut off from the fleet's Redis kept answering from
    L1, while a clear stopped waiting for it and reported complete."""
    with TcpRelay("127.0.0.1", redis_server.port) as relay:
        member, cache = seat(client_via(relay), l2, "cut", fleet=FAST)
        member.sync()
        cache.set(KEY, "written before the clear")
        relay.cut()
        report = control(client, l2, FAST).clear()
        assert report.complete and report.expired == [member.member] and not report.silent
        # Redis expired its membership, so its lease (shorter, counted from an earlier start)
        # has run out: from now on it answers nothing from memory.
        assert cache.get(KEY) is MISS and member.current() is None


def test_an_answer_computed_across_a_clear_is_never_served(
    client: redis.Redis, l2: MemoryL2
) -> None:
    """Defect 2, check-then-write: a call that began before a clear and ended after its
    deletion, in a process that had not yet seen the new generation, wrote its pre-clear
    answer into the emptied L2, and every worker served it."""
    slow_clock = FakeClock(0.0)
    slow, slow_cache = seat(client, l2, "slow", monotonic=slow_clock)
    slow.sync()
    epoch = slow_cache.epoch()  # the provider call starts
    control(client, l2).clear(timeout_s=0.2)  # completes or not: the race is the point
    assert slow_cache.set(KEY, "pre-clear answer", epoch=epoch) is True  # it saw no clear yet
    assert l2.get(KEY) is not MISS  # it did land in L2...
    reader, reader_cache = seat(client, l2, "reader")
    reader.sync()
    assert reader_cache.get(KEY) is MISS  # ...and is never served after the clear
    slow_clock.tick(FAST.sync_interval_s)
    assert slow_cache.get(KEY) is MISS  # not even by its writer, once it checks


def test_a_failed_l2_clear_blocks_l2_reads_fleet_wide_until_one_succeeds(
    client: redis.Redis, l2: MemoryL2
) -> None:
    member, cache = seat(client, l2, "n1")
    member.start()
    try:
        l2.set(KEY, b'{"data":"pre-clear","cached_at":1e12}', 60)
        l2.down = True
        report = control(client, l2).clear()
        assert not report.complete and "L2" in (report.l2_error or "")
        l2.down = False
        member.sync()
        assert cache.l2_blocked and cache.get(KEY) is MISS
        assert control(client, l2).clear().complete
        member.sync()
        assert not cache.l2_blocked
    finally:
        member.stop()


def test_a_clear_right_after_a_data_loss_waits_out_the_leases_of_the_lost_state(
    redis_server: PrivateRedis, client: redis.Redis, l2: MemoryL2
) -> None:
    """Members of the lost state are invisible (their keys went with the data) and may hold
    leases: a clear on the new state completes only once those leases have certainly ended."""
    clock = FakeClock(0.0)
    invisible, cache = seat(client, l2, "invisible", monotonic=clock)
    invisible.sync()
    cache.set(KEY, "stale")
    redis_server.kill()
    redis_server.start()
    too_soon = control(client, l2, FAST).clear(timeout_s=0.1)
    assert not too_soon.complete and "younger" in (too_soon.unproven or "")
    report = control(client, l2, FAST).clear(timeout_s=FAST.member_ttl_s * 3)
    assert report.complete
    clock.tick(FAST.sync_interval_s)
    assert cache.get(KEY) is MISS  # new epoch: its L1 went, the old-epoch L2 entry is skipped


def test_the_members_set_forgets_long_dead_members(client: redis.Redis, l2: MemoryL2) -> None:
    client.zadd(KEYS.members, {"ghost|1": 1.0})  # heard of in 1970 by Redis' clock
    member, _ = seat(client, l2, "alive")
    member.sync()
    report = control(client, l2).clear(timeout_s=2)
    assert client.zscore(KEYS.members, "ghost|1") is None
    assert "ghost|1" not in report.expired + report.silent


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
        assert cache.get_many(keys[:2]) == [MISS, MISS]  # unreadable fleet state: nothing
    finally:
        redis_server.resume()
        short.close()


def test_a_producer_skips_entries_stamped_before_the_generation_it_reads(
    client: redis.Redis, l2: MemoryL2
) -> None:
    member, cache = seat(client, l2, "worker")
    member.sync()
    cache.set(KEY, "stamped with the first generation")
    client.incr(KEYS.generation)  # a clear whose deletion missed the entry
    view_cache = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=FleetView(client, KEYS))
    assert view_cache.get_many([KEY]) == [MISS]


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

    class Counts:
        def __init__(self, node: str) -> None:
            self.node = node

        def clear_result(self, result: str) -> None:
            taken.append((self.node, result))

        def producer_answered(self, answered: Answered) -> None:
            raise AssertionError("no producer answered anything")

    # the third has no metrics: it takes nothing
    members = [seat(client, l2, f"c{i}", counts=Counts(f"c{i}") if i < 2 else None)[0]
               for i in range(3)]  # fmt: skip
    for member in members:
        member.sync()
    clearing = control(client, l2, FleetSettings(**{**FAST.model_dump(), "clear_timeout_s": 0.2}))
    assert clearing.clear().result == "incomplete"  # nobody listens: no acks
    l2.down = True
    assert clearing.clear().result == "failed"
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
    """A member whose regular check sees a clear's new generation before its message arrives
    (a loaded machine's order): it checks once more right before handling any event."""

    def _handle(self, event: dict[str, Any]) -> None:
        self.sync()
        super()._handle(event)


def test_a_clear_seen_first_by_a_check_is_counted_once(client: redis.Redis, l2: MemoryL2) -> None:
    registry = CollectorRegistry()
    member = CheckedFirst(client, KEYS, node="n1", sync_interval_s=STEADY.sync_interval_s,
                          lease_s=STEADY.lease_s, member_ttl_s=STEADY.member_ttl_s)  # fmt: skip
    cache = TwoTierCache("redis", CacheSettings(), l2=l2,
                         invalidator=InstrumentedInvalidator(member, Metrics(registry, max_models=20)))  # fmt: skip
    labels = {"scope": "local", "result": "ok"}

    def local_clears() -> float:
        return registry.get_sample_value("llmix_cache_clears_total", labels) or 0.0

    member.start()
    try:
        cache.set(KEY, "old")
        before = local_clears()
        report = control(client, l2).clear()
        eventually(lambda: local_clears() > before, "the drop counted")
        after = local_clears()
    finally:
        member.stop()
    assert report.complete and report.acks[0]["dropped"] == 1
    assert cache.get(KEY) is MISS
    assert after - before == 1  # one clear, counted once
