"""SharedClear on a real Redis: one clear per request id, each node answering for its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from llmix_workers.cache.backends.memory import MemoryL2
from llmix_workers.cache.invalidation import LocalInvalidator
from llmix_workers.cache.tiered import TwoTierCache
from llmix_workers.fleet.control import FleetControl
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.fleet.member import FleetMember
from llmix_workers.fleet.shared_clear import SharedClear
from llmix_workers.settings import CacheSettings, FleetSettings

PREFIX = "llmix:resp:v2:"


@pytest.fixture
def control(redis_url: str) -> Iterator[FleetControl]:
    control = FleetControl(redis.Redis.from_url(redis_url), MemoryL2(), cache=CacheSettings(),
                           fleet=FleetSettings(clear_timeout_s=5))  # fmt: skip
    yield control
    control.close()


@pytest.fixture
def members(redis_url: str) -> Iterator[list[FleetMember]]:
    """Three processes: two on node a@x, one on node b@x, each with one L1 entry."""
    started: list[FleetMember] = []
    for node in ("a@x", "a@x", "b@x"):
        cache = TwoTierCache("memory", CacheSettings(), invalidator=LocalInvalidator())
        member = FleetMember(redis.Redis.from_url(redis_url), FleetKeys.for_prefix(PREFIX),
                             node=node, sync_interval_s=0.2, lease_s=4.0,
                             member_ttl_s=6.0)  # fmt: skip
        member.pid += len(started)  # three "processes" in one test process
        member.member = f"{node}|{member.pid}"
        member.attach(cache)
        started.append(member.start())
        cache.set(PREFIX + "k", "v")  # after the first sync, which adopts generation 0
    yield started
    for member in started:
        member.stop()


def test_each_node_answers_for_its_own_processes(
    control: FleetControl, members: list[FleetMember]
) -> None:
    reply = SharedClear(control).run("a@x", request_id="r1")
    assert reply["ranTheClear"] is True and reply["complete"] is True
    assert reply["processes"] == 2 and reply["dropped"] == 2
    assert reply["pids"] == sorted(m.pid for m in members[:2])
    other = SharedClear(control).run("b@x", request_id="r1")
    assert other["ranTheClear"] is False  # the same broadcast: joined, not run again
    assert (other["processes"], other["generation"]) == (1, reply["generation"])


def test_a_new_id_is_a_new_clear_and_a_repeated_id_is_not(
    control: FleetControl, members: list[FleetMember]
) -> None:
    first = SharedClear(control).run("a@x", request_id="nightly-1")
    repeat = SharedClear(control).run("a@x", request_id="nightly-1")
    second = SharedClear(control).run("a@x", request_id="nightly-2")
    assert repeat["generation"] == first["generation"] and not repeat["ranTheClear"]
    assert second["generation"] == first["generation"] + 1 and second["ranTheClear"]


def test_without_an_id_a_round_is_opened_and_closed(
    control: FleetControl, members: list[FleetMember]
) -> None:
    first = SharedClear(control).run("a@x")
    assert first["ranTheClear"] and control.client.get(control.keys.control_round) is None
    later = SharedClear(control).run("b@x")  # the round ended: a later broadcast clears again
    assert later["ranTheClear"] and later["generation"] == first["generation"] + 1
    assert later["requestId"] != first["requestId"]


def test_a_node_that_claimed_the_clear_and_vanished_is_reported_not_waited_for_forever(
    control: FleetControl, members: list[FleetMember]
) -> None:
    control.client.set(control.keys.control_result("stuck"), b"running", px=300)
    reply = SharedClear(control).run("b@x", request_id="stuck")
    assert reply["ranTheClear"] is False and reply["complete"] is False
    assert reply["ok"] == "incomplete" and "did not report" in reply["l2Error"]
