from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from llmix_workers import (
    MISS,
    CacheHit,
    ClearFailed,
    ConfigError,
    MemoryL2,
    TwoTierCache,
    build_response_cache,
    load_settings,
)
from llmix_workers.settings import CacheSettings
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.l2_contract import entry

TTL_S = CacheSettings().ttl_s
KEY = "llmix:resp:v2:" + "ab" * 32


@pytest.fixture
def l2(clock: FakeClock) -> MemoryL2:
    return MemoryL2(clock=clock)


def make_cache(l2: MemoryL2, clock: FakeClock, **options: Any) -> TwoTierCache:
    return TwoTierCache("redis", CacheSettings(**options), l2=l2, clock=clock, monotonic=clock)


def test_miss_then_l1_hit(l2: MemoryL2, clock: FakeClock) -> None:
    cache = make_cache(l2, clock)
    assert cache.get(KEY) is MISS
    cache.set(KEY, "hello")
    assert cache.get(KEY) == CacheHit("hello", "l1", clock(), None)
    assert orjson.loads(l2.get(KEY)) == {"data": "hello", "cached_at": clock()}  # type: ignore[arg-type]


def test_l2_hit_backfills_l1_with_the_original_cached_at(l2: MemoryL2, clock: FakeClock) -> None:
    writer = make_cache(l2, clock)
    writer.set(KEY, "shared", extra={"usage": {"totalTokens": 12}})
    written_at = clock()
    clock.tick(100)
    reader = make_cache(l2, clock)
    first = reader.get(KEY)
    assert first == CacheHit("shared", "l2", written_at, {"usage": {"totalTokens": 12}})
    second = reader.get(KEY)
    assert isinstance(second, CacheHit) and second.tier == "l1"
    assert second.cached_at == written_at
    # the back-filled L1 entry keeps the original expiry: 3600 s after the write, not the read
    clock.tick(3600 - 100)
    assert reader.get(KEY) is MISS


def test_age_at_or_past_ttl_is_a_miss_in_l2(l2: MemoryL2, clock: FakeClock) -> None:
    l2.put_raw(KEY, orjson.dumps({"data": "old", "cached_at": clock() - 60}), ttl_s=3600)
    cache = make_cache(l2, clock, ttl_s=60)
    assert cache.get(KEY) is MISS
    l2.put_raw(KEY, orjson.dumps({"data": "young", "cached_at": clock() - 59.5}), ttl_s=3600)
    assert isinstance(hit := cache.get(KEY), CacheHit) and hit.value == "young"
    clock.tick(0.5)
    assert cache.get(KEY) is MISS


def test_legacy_millisecond_and_camel_case_entries_are_hits(l2: MemoryL2, clock: FakeClock) -> None:
    cache = make_cache(l2, clock)
    l2.put_raw(
        "k:ms", orjson.dumps({"data": "ms", "cached_at": int((clock() - 10) * 1000)}), ttl_s=TTL_S
    )
    l2.put_raw("k:camel", orjson.dumps({"data": "camel", "cachedAt": clock() - 10}), ttl_s=TTL_S)
    for key, value in (("k:ms", "ms"), ("k:camel", "camel")):
        hit = cache.get(key)
        assert isinstance(hit, CacheHit)
        assert (hit.value, hit.tier) == (value, "l2")
        assert hit.cached_at == pytest.approx(clock() - 10)


@pytest.mark.parametrize(
    "raw", [b"{oops", b'{"data": 3}', b"[]", b'{"cached_at": 1}', b'"x"', b"\x00" * 10]
)
def test_malformed_entries_are_misses(l2: MemoryL2, clock: FakeClock, raw: bytes) -> None:
    cache = make_cache(l2, clock)
    l2.put_raw(KEY, raw, ttl_s=TTL_S)
    assert cache.get(KEY) is MISS
    assert cache.stats().misses == 1 and cache.stats().l2_errors == 0


def test_entries_over_the_size_limit_are_neither_written_nor_read(
    l2: MemoryL2, clock: FakeClock
) -> None:
    cache = make_cache(l2, clock, l2_max_entry_bytes=1024)
    cache.set(KEY, "x" * 2000)
    assert l2.get(KEY) is MISS
    assert isinstance(cache.get(KEY), CacheHit)  # still served from L1
    l2.put_raw("k:huge", orjson.dumps({"data": "y" * 5000, "cached_at": clock()}), ttl_s=TTL_S)
    assert cache.get("k:huge") is MISS


def test_per_call_ttl_is_recorded_and_honoured_by_readers(l2: MemoryL2, clock: FakeClock) -> None:
    make_cache(l2, clock).set(KEY, "short", ttl_s=10)
    reader = make_cache(l2, clock)
    clock.tick(9)
    assert isinstance(reader.get(KEY), CacheHit)
    clock.tick(1)
    assert reader.get(KEY) is MISS


def test_three_failed_writes_mark_l2_unhealthy_and_one_success_heals(
    l2: MemoryL2, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_cache(l2, clock, l2_cooloff_s=5.0)
    l2.down = True
    for attempt in range(3):
        assert cache.stats().l2_healthy is True, attempt
        cache.set(f"k:{attempt}", "v")  # never raises
    assert cache.stats().l2_healthy is False
    assert "unhealthy" in caplog.text
    l2.down = False
    cache.set("k:during-cooloff", "v")  # skipped: still cooling off
    assert l2.get("k:during-cooloff") is MISS
    clock.tick(5)
    cache.set("k:probe", "v")
    assert l2.get("k:probe") != MISS
    assert cache.stats().l2_healthy is True


def test_a_success_between_failures_resets_the_count(l2: MemoryL2, clock: FakeClock) -> None:
    cache = make_cache(l2, clock)
    for down in (True, True, False, True, True):
        l2.down = down
        cache.set("k", "v")
    assert cache.stats().l2_healthy is True


def test_unhealthy_l2_is_not_read_during_cooloff(l2: MemoryL2, clock: FakeClock) -> None:
    cache = make_cache(l2, clock, l2_cooloff_s=30.0)
    l2.put_raw(KEY, orjson.dumps({"data": "there", "cached_at": clock()}), ttl_s=TTL_S)
    l2.down = True
    for _ in range(3):
        cache.set("k", "v")
    l2.down = False
    assert cache.get(KEY) is MISS  # L2 has it, but is left alone while cooling off
    clock.tick(30)
    hit = cache.get(KEY)
    assert isinstance(hit, CacheHit) and hit.tier == "l2"


def test_failed_reads_are_misses_not_errors(l2: MemoryL2, clock: FakeClock) -> None:
    cache = make_cache(l2, clock)
    l2.down = True
    assert cache.get(KEY) is MISS
    assert cache.stats().l2_errors == 1


def test_clear_empties_both_tiers_under_the_prefix_only(l2: MemoryL2, clock: FakeClock) -> None:
    cache = make_cache(l2, clock)
    for index in range(5):
        cache.set(entry("llmix:resp:v2:", index), "v")
    l2.put_raw(entry("llmix:resp:", 1), b"{}", ttl_s=TTL_S)
    result = cache.clear()
    assert (result.l1_dropped, result.l2_deleted) == (5, 5)
    assert cache.get(entry("llmix:resp:v2:", 1)) is MISS
    assert l2.get(entry("llmix:resp:", 1)) == b"{}"


def test_failed_clear_blocks_l2_reads_until_a_clear_succeeds(
    l2: MemoryL2, clock: FakeClock
) -> None:
    writer = make_cache(l2, clock)
    writer.set(KEY, "before")
    cache = make_cache(l2, clock)
    l2.down = True
    with pytest.raises(ClearFailed, match="blocked"):
        cache.clear()
    l2.down = False
    assert cache.stats().l2_blocked is True
    assert cache.get(KEY) is MISS  # the pre-clear entry is still in L2 but not served
    cache.set("k:new", "after")  # writes still go through
    assert l2.get("k:new") != MISS
    assert cache.clear().l2_deleted >= 1
    assert cache.stats().l2_blocked is False
    cache.set(KEY, "fresh")
    assert isinstance(hit := make_cache(l2, clock).get(KEY), CacheHit) and hit.value == "fresh"


def test_stats_report_the_llmix_fields_and_counters(l2: MemoryL2, clock: FakeClock) -> None:
    cache = make_cache(l2, clock, l1_max_entries=7)
    cache.set("a", "1")
    cache.get("a")
    cache.get("b")
    stats = cache.stats()
    assert (stats.l1_size, stats.l1_max, stats.l2_enabled, stats.l2_healthy, stats.strategy) == (
        1, 7, True, True, "redis",
    )  # fmt: skip
    assert (stats.l1_hits, stats.l2_hits, stats.misses) == (1, 0, 1)


def test_memory_strategy_has_no_l2(clock: FakeClock) -> None:
    cache = TwoTierCache("memory", CacheSettings(), clock=clock)
    cache.set(KEY, "v")
    assert isinstance(cache.get(KEY), CacheHit)
    assert cache.stats().l2_enabled is False
    assert cache.clear().l1_dropped == 1


def test_redis_strategy_needs_an_l2() -> None:
    with pytest.raises(ConfigError, match="needs an L2 backend"):
        TwoTierCache("redis", CacheSettings())


def test_build_from_settings(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("LLMIX_REDIS__URL", raising=False)
    with caplog.at_level(logging.WARNING):
        cache = build_response_cache(load_settings(cache={"l1_max_entries": 3}))
    assert cache is not None and cache.stats().strategy == "memory"
    assert cache.stats().l1_max == 3
    assert build_response_cache(load_settings(cache={"strategy": "disabled"})) is None
    with pytest.raises(ConfigError, match='"redis" requires REDIS_URL'):
        build_response_cache(load_settings(cache={"strategy": "redis"}))
    memory_l2 = MemoryL2()
    cache = build_response_cache(
        load_settings(cache={"strategy": "redis"}, redis={"url": "redis://h"}), l2=memory_l2
    )
    assert cache is not None and cache.l2 is memory_l2


def test_a_hung_l2_costs_one_timeout_per_cooloff_window_not_one_per_lookup(
    l2: MemoryL2, clock: FakeClock
) -> None:
    cache = make_cache(l2, clock, l2_cooloff_s=5.0)
    l2.hung = True
    l2.attempts = 0
    for index in range(40):  # a busy process: every lookup misses L1
        assert cache.get(f"{KEY}{index}") is MISS
        cache.set(f"{KEY}{index}", "v")
    assert l2.attempts == 1  # the first timeout made L2 quiet for the window
    clock.tick(5.0)
    assert cache.get(KEY + "x") is MISS
    assert l2.attempts == 2  # one probe in the next window
    l2.hung = False
    clock.tick(5.0)
    cache.set(KEY + "y", "back")
    assert cache.get(KEY + "z") is MISS and l2.attempts == 4  # used freely again
    assert cache.stats().l2_healthy


def test_a_refused_connection_keeps_the_llmix_rule(l2: MemoryL2, clock: FakeClock) -> None:
    cache = make_cache(l2, clock)
    l2.down = True
    l2.attempts = 0
    for index in range(3):
        cache.set(f"{KEY}{index}", "v")
    assert l2.attempts == 3 and not cache.stats().l2_healthy


@pytest.mark.parametrize(
    "raw",
    [
        b'{"data":"x","cached_at":1,"ttl_s":' + b"9" * 400 + b"}",
        b'{"data":"x","cached_at":' + b"9" * 400 + b"}",
        b'{"data":"x","cached_at":1e308,"ttl_s":3600}',
        b'{"data":"x","cached_at":-1e308}',
        b'{"data":"x","cached_at":1,"ttl_s":-5}',
        b'{"data":"x","cached_at":1,"ttl_s":1.5e300}',
    ],
)
def test_an_entry_with_absurd_numbers_is_a_miss_or_a_hit_never_an_error(
    l2: MemoryL2, clock: FakeClock, raw: bytes
) -> None:
    l2.put_raw(KEY, raw, ttl_s=TTL_S)
    hit = make_cache(l2, clock).get(KEY)
    assert hit is MISS or (isinstance(hit, CacheHit) and hit.value == "x")
