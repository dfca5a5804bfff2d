"""A clear against a primary with a replica: complete only once the replica has it, so a
failover right after a complete clear brings back neither the entries nor the old generation."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from llmix_workers.cache.backend import MISS
from llmix_workers.cache.backends.redis import RedisL2
from llmix_workers.cache.tiered import CacheHit
from llmix_workers.fleet.control import FleetControl
from llmix_workers.settings import CacheSettings, FleetSettings, RedisSettings
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.wiring.cache import l2_options
from tests.redis.fleet_seats import FAST, KEY, KEYS, PREFIX, seat

SLOW = RedisSettings(socket_timeout_s=2, connect_timeout_s=2)


def _eventually(check: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def pair() -> Iterator[tuple[PrivateRedis, PrivateRedis]]:
    with PrivateRedis() as primary:
        with PrivateRedis(extra_args=["--replicaof", "127.0.0.1", str(primary.port)]) as replica:
            probe = redis.Redis(port=primary.port)
            _eventually(lambda: "online" in str(probe.info("replication").get("slave0", "")))
            probe.close()
            yield primary, replica


def _control(primary: PrivateRedis, timeout_s: float) -> FleetControl:
    client = redis.Redis(port=primary.port, socket_timeout=5)
    l2 = RedisL2(primary.url, **l2_options(SLOW))
    fleet = FleetSettings(**{**FAST.model_dump(), "clear_timeout_s": timeout_s})
    return FleetControl(client, l2, cache=CacheSettings(), fleet=fleet)


def test_a_clear_the_replica_has_not_acknowledged_is_not_complete(
    pair: tuple[PrivateRedis, PrivateRedis],
) -> None:
    primary, replica = pair
    assert _control(primary, 5).clear().complete  # the fleet state is older than a TTL now
    replica.pause()
    try:
        report = _control(primary, 0.5).clear()
    finally:
        replica.resume()
    assert not report.complete and report.result == "incomplete"
    assert "0 of 1 replicas" in (report.unproven or "")
    assert _control(primary, 5).clear().complete


def test_a_failover_right_after_a_complete_clear_brings_nothing_back(
    pair: tuple[PrivateRedis, PrivateRedis],
) -> None:
    primary, replica = pair
    client = redis.Redis(port=primary.port, socket_timeout=2)
    l2 = RedisL2(primary.url, **l2_options(SLOW))
    member, cache = seat(client, l2, "writer", fleet=FAST)  # type: ignore[arg-type]
    member.sync()
    cache.set(KEY, "written before the clear")
    report = _control(primary, 5).clear()
    assert report.complete
    primary.kill()  # at once: whatever had not reached the replica is lost
    promoted = redis.Redis(port=replica.port, socket_timeout=2)
    promoted.replicaof("NO", "ONE")
    assert int(promoted.get(KEYS.generation) or 0) == report.generation
    assert promoted.keys(PREFIX + "*") == []
    reader_l2 = RedisL2(replica.url, **l2_options(SLOW))
    reader, reader_cache = seat(promoted, reader_l2, "reader")  # type: ignore[arg-type]
    reader.sync()
    assert reader_cache.get(KEY) is MISS
    reader_cache.set(KEY, "after")
    assert isinstance(reader_cache.get(KEY), CacheHit)


def test_a_restart_of_the_fleet_redis_during_a_clear_leaves_it_unproven(
    redis_server: PrivateRedis, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=2)

    class RestartingL2(RedisL2):
        def delete_entries(self, prefix: str, batch_size: int) -> int:
            redis_server.kill()
            redis_server.start()  # empty, a new run id
            return 0

    l2 = RestartingL2(redis_url, **l2_options(SLOW))
    control = FleetControl(client, l2, cache=CacheSettings(), fleet=FAST)
    report = control.clear()
    assert not report.complete
    assert any(word in (report.unproven or "") for word in ("restarted", "lost")), report
