"""FleetLock on a private redis-server: one holder, waiters get its entry, take-over, outages."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from llmix_workers.cache.backend import MISS, Miss
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.fleet.lock import FleetLock
from llmix_workers.testing.redis_server import PrivateRedis

KEYS = FleetKeys.for_prefix("llmix:resp:v2:")
CACHE_KEY = "llmix:resp:v2:" + "cd" * 32


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    yield client
    client.close()


def test_one_holder_calls_and_the_others_get_its_entry(client: redis.Redis) -> None:
    store: dict[str, str] = {}
    calls: list[int] = []
    entered = threading.Event()

    def call() -> str:
        calls.append(1)
        entered.set()
        time.sleep(0.3)
        store["answer"] = "computed"
        return "computed"

    def lookup() -> str | Miss:
        return store.get("answer", MISS)

    lock: FleetLock[str] = FleetLock(client, KEYS, ttl_s=2, wait_s=10, poll_s=0.01)
    outcomes = []
    first = threading.Thread(target=lambda: outcomes.append(lock.run(CACHE_KEY, call, lookup)))
    first.start()
    assert entered.wait(5)
    waiters = [threading.Thread(target=lambda: outcomes.append(lock.run(CACHE_KEY, call, lookup)))
               for _ in range(3)]  # fmt: skip
    for thread in waiters:
        thread.start()
    for thread in [first, *waiters]:
        thread.join(10)
    assert len(calls) == 1
    assert sorted(o.waited for o in outcomes) == [False, True, True, True]
    assert all(o.value == "computed" for o in outcomes)
    assert not client.exists(KEYS.lock(CACHE_KEY))  # released


def test_the_lock_outlives_its_ttl_while_the_holder_works(client: redis.Redis) -> None:
    # a call of 2.5 s under a 1.5 s TTL: the keeper resets the TTL every 0.5 s, so a keeper
    # thread held up by a loaded machine for up to a second still keeps the lock
    lock: FleetLock[str] = FleetLock(client, KEYS, ttl_s=1.5, wait_s=5, poll_s=0.02)
    seen: list[bool] = []

    def call() -> str:
        for _ in range(5):
            time.sleep(0.5)  # the holder at work
            seen.append(bool(client.exists(KEYS.lock(CACHE_KEY))))
        return "done"

    assert lock.run(CACHE_KEY, call, lambda: MISS).value == "done"
    assert seen == [True] * 5


def test_a_vanished_holder_is_taken_over_at_lock_expiry(client: redis.Redis) -> None:
    client.set(KEYS.lock(CACHE_KEY), "a-dead-worker", px=400)  # held by nobody alive
    lock: FleetLock[str] = FleetLock(client, KEYS, ttl_s=2, wait_s=10, poll_s=0.01)
    started = time.monotonic()
    outcome = lock.run(CACHE_KEY, lambda: "mine", lambda: MISS)
    assert (outcome.value, outcome.waited, outcome.took_over) == ("mine", False, True)
    assert time.monotonic() - started >= 0.3


def test_a_waiter_gives_up_after_wait_s_and_calls_itself(client: redis.Redis) -> None:
    client.set(KEYS.lock(CACHE_KEY), "slow-worker", px=10_000)
    lock: FleetLock[str] = FleetLock(client, KEYS, ttl_s=2, wait_s=0.3, poll_s=0.01)
    outcome = lock.run(CACHE_KEY, lambda: "mine", lambda: MISS)
    assert (outcome.value, outcome.waited) == ("mine", False)


def test_redis_down_means_call_directly(redis_server: PrivateRedis, client: redis.Redis) -> None:
    lock: FleetLock[str] = FleetLock(client, KEYS, ttl_s=2, wait_s=5, poll_s=0.02)
    redis_server.kill()
    outcome = lock.run(CACHE_KEY, lambda: "direct", lambda: MISS)
    assert (outcome.value, outcome.waited) == ("direct", False)
