"""TwoTierCache on a real redis-server: tiers, TTLs, foreign entries, outages."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
import redis

from llmix_workers import MISS, CacheHit, ClearFailed, RedisL2, TwoTierCache, generate_cache_key
from llmix_workers.settings import CacheSettings, RedisSettings
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.l2_contract import entry
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.wiring.cache import l2_options

REQUEST = {
    "provider": "openai",
    "model": "gpt-4.1",
    "messages": [{"role": "user", "content": "Hi"}],
}
KEY = generate_cache_key(REQUEST)
PREFIX = "llmix:resp:v2:"


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def make_cache(redis_url: str) -> Iterator[Callable[..., TwoTierCache]]:
    made: list[TwoTierCache] = []

    def make(
        monotonic: FakeClock | None = None, timeout_s: float = 10.0, **options: Any
    ) -> TwoTierCache:
        """A cache on the private Redis; ``timeout_s`` short only where a test pauses Redis (a
        loaded machine can keep a healthy Redis from answering for a few hundred ms)."""
        timeouts = RedisSettings(socket_timeout_s=timeout_s, connect_timeout_s=timeout_s)
        l2 = RedisL2(redis_url, **l2_options(timeouts))
        cache = TwoTierCache(
            "redis", CacheSettings(**options), l2=l2, monotonic=monotonic or time.monotonic
        )
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()


def returns_promptly(call: Callable[[], Any]) -> Any:
    """Run ``call`` in a thread; fail if it is still blocked after 5 s (a hang, not a slow call)."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append((True, call()))
        except Exception as exc:
            box.append((False, exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "the call hung on a stopped Redis"
    ok, value = box[0]
    if not ok:
        raise value
    return value


def test_l2_hit_from_another_process_then_l1(make_cache: Callable[..., TwoTierCache]) -> None:
    make_cache().set(KEY, "shared answer", extra={"usage": {"totalTokens": 9}})
    other = make_cache()
    first = other.get(KEY)
    assert isinstance(first, CacheHit)
    assert (first.value, first.tier, first.extra) == (
        "shared answer",
        "l2",
        {"usage": {"totalTokens": 9}},
    )
    second = other.get(KEY)
    assert isinstance(second, CacheHit) and second.tier == "l1"
    assert second.cached_at == first.cached_at


def test_the_entry_is_the_llmix_format(
    make_cache: Callable[..., TwoTierCache], raw: redis.Redis
) -> None:
    before = time.time()
    make_cache(ttl_s=120).set(KEY, "text <think>kept raw</think>")
    body = orjson.loads(raw.get(KEY))  # type: ignore[arg-type]
    assert body["data"] == "text <think>kept raw</think>"
    assert before <= body["cached_at"] <= time.time()
    assert 118 <= raw.ttl(KEY) <= 120


def test_short_ttls_expire_in_both_tiers(
    make_cache: Callable[..., TwoTierCache], raw: redis.Redis
) -> None:
    cache = make_cache(ttl_s=1)
    cache.set(KEY, "brief")
    assert isinstance(cache.get(KEY), CacheHit)
    time.sleep(1.1)
    assert cache.get(KEY) is MISS
    assert raw.exists(KEY) == 0
    assert make_cache().get(KEY) is MISS


def test_foreign_legacy_entries(make_cache: Callable[..., TwoTierCache], raw: redis.Redis) -> None:
    now = time.time()
    raw.set("llmix:resp:v2:ms", orjson.dumps({"data": "ms", "cached_at": int(now * 1000) - 5000}))
    raw.set("llmix:resp:v2:camel", orjson.dumps({"data": "camel", "cachedAt": now - 5}))
    raw.set("llmix:resp:v2:none", orjson.dumps({"data": "no stamp", "other": [1, 2]}))
    cache = make_cache()
    for key, value in (("ms", "ms"), ("camel", "camel"), ("none", "no stamp")):
        hit = cache.get(f"llmix:resp:v2:{key}")
        assert isinstance(hit, CacheHit) and hit.value == value and hit.tier == "l2"
    camel = cache.get("llmix:resp:v2:camel")
    assert isinstance(camel, CacheHit) and camel.cached_at == pytest.approx(now - 5)


@pytest.mark.parametrize(
    "payload",
    [b"not json at all", b'{"cached_at": 1}', b'{"data": 42}', b'{"data": {"nested": "x"}}', b"[]"],
)
def test_malformed_entries_are_misses(
    make_cache: Callable[..., TwoTierCache], raw: redis.Redis, payload: bytes
) -> None:
    raw.set(KEY, payload)
    cache = make_cache()
    assert cache.get(KEY) is MISS
    assert cache.stats().l2_errors == 0


def test_huge_values(make_cache: Callable[..., TwoTierCache], raw: redis.Redis) -> None:
    cache = make_cache(l2_max_entry_bytes=4 * 1024 * 1024)
    big = "x" * (3 * 1024 * 1024)
    cache.set("llmix:resp:v2:big", big)
    hit = make_cache(l2_max_entry_bytes=4 * 1024 * 1024).get("llmix:resp:v2:big")
    assert isinstance(hit, CacheHit) and hit.value == big
    raw.set("llmix:resp:v2:huge", b'{"data":"' + b"y" * (5 * 1024 * 1024) + b'","cached_at":1}')
    assert cache.get("llmix:resp:v2:huge") is MISS
    cache.set("llmix:resp:v2:too-big", "z" * (5 * 1024 * 1024))
    assert raw.exists("llmix:resp:v2:too-big") == 0


def test_redis_killed_mid_test_then_back(
    make_cache: Callable[..., TwoTierCache], redis_server: PrivateRedis
) -> None:
    monotonic = FakeClock(0.0)
    cache = make_cache(monotonic=monotonic, l2_cooloff_s=5.0)
    cache.set(KEY, "before")
    cache.clear_l1()
    assert isinstance(cache.get(KEY), CacheHit)
    redis_server.kill()
    assert cache.get("llmix:resp:v2:other") is MISS  # an outage is a miss
    for attempt in range(3):
        assert cache.stats().l2_healthy is True, attempt
        cache.set(f"llmix:resp:v2:w{attempt}", "v")
    assert cache.stats().l2_healthy is False
    assert isinstance(cache.get(KEY), CacheHit)  # L1 keeps serving
    redis_server.start()
    monotonic.tick(5.0)
    cache.set("llmix:resp:v2:after", "v")
    assert cache.stats().l2_healthy is True
    assert isinstance(make_cache().get("llmix:resp:v2:after"), CacheHit)


def test_paused_redis_never_stalls_a_call(
    make_cache: Callable[..., TwoTierCache], redis_server: PrivateRedis
) -> None:
    monotonic = FakeClock(0.0)
    cache = make_cache(monotonic=monotonic, timeout_s=0.2)
    cache.set(KEY, "v")  # connection made while Redis answers
    cache.clear_l1()
    redis_server.pause()
    try:
        assert returns_promptly(lambda: cache.get(KEY)) is MISS
        returns_promptly(lambda: cache.set(entry(PREFIX, 9), "v"))  # quiet: not even tried
        assert returns_promptly(lambda: cache.get(entry(PREFIX, 8))) is MISS
        assert cache.stats().l2_errors == 1  # one timeout for the whole cool-off window
    finally:
        redis_server.resume()
    monotonic.tick(5.0)
    hit = returns_promptly(lambda: cache.get(KEY))
    assert isinstance(hit, CacheHit) and hit.tier == "l2"


def test_clear_while_redis_is_paused_blocks_reads_until_a_clear_succeeds(
    make_cache: Callable[..., TwoTierCache], redis_server: PrivateRedis, raw: redis.Redis
) -> None:
    make_cache().set(KEY, "pre-clear")
    cache = make_cache(timeout_s=0.2)
    redis_server.pause()
    try:
        with pytest.raises(ClearFailed):
            returns_promptly(cache.clear)
    finally:
        redis_server.resume()
    assert raw.exists(KEY) == 1  # still stored...
    assert cache.get(KEY) is MISS  # ...but never served while blocked
    assert cache.stats().l2_blocked is True
    assert cache.clear().l2_deleted == 1
    assert cache.stats().l2_blocked is False
    make_cache().set(KEY, "post-clear")
    hit = cache.get(KEY)
    assert isinstance(hit, CacheHit) and hit.value == "post-clear"


def test_clear_while_redis_is_down_then_after_restart(
    make_cache: Callable[..., TwoTierCache], redis_server: PrivateRedis
) -> None:
    cache = make_cache()
    cache.set(KEY, "v")
    redis_server.kill()
    with pytest.raises(ClearFailed, match="blocked"):
        cache.clear()
    assert cache.get(KEY) is MISS  # L1 was emptied, L2 is blocked
    redis_server.start()
    make_cache().set(entry(PREFIX, 1), "v")
    assert cache.get(entry(PREFIX, 1)) is MISS
    assert cache.clear().l2_deleted == 1
    make_cache().set(entry(PREFIX, 1), "v2")
    assert isinstance(cache.get(entry(PREFIX, 1)), CacheHit)


def test_clear_deletes_thousands_of_keys_in_batches(
    make_cache: Callable[..., TwoTierCache], raw: redis.Redis
) -> None:
    with raw.pipeline(transaction=False) as pipe:
        for index in range(5000):
            pipe.set(entry(PREFIX, index), b"{}")
        pipe.set("llmix:fleet:generation", 3)
        pipe.execute()
    result = make_cache(clear_batch_size=300).clear()
    assert result.l2_deleted == 5000
    assert raw.dbsize() == 1
