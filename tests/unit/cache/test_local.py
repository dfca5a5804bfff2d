from __future__ import annotations

import threading

import pytest

from llmix_workers.cache.backend import MISS
from llmix_workers.cache.local import LocalLRU
from llmix_workers.testing.clock import FakeClock


def test_least_recently_used_goes_first(clock: FakeClock) -> None:
    lru: LocalLRU[str] = LocalLRU(2, clock)
    lru.put("a", "A", clock() + 60)
    lru.put("b", "B", clock() + 60)
    assert lru.get("a") == "A"  # now b is the least recently used
    lru.put("c", "C", clock() + 60)
    assert lru.get("b") is MISS
    assert lru.get("a") == "A" and lru.get("c") == "C"
    assert len(lru) == 2


def test_entry_expires_when_its_age_reaches_the_ttl(clock: FakeClock) -> None:
    lru: LocalLRU[str] = LocalLRU(10, clock)
    lru.put("a", "A", clock() + 5)
    clock.tick(4.999)
    assert lru.get("a") == "A"
    clock.tick(0.001)
    assert lru.get("a") is MISS
    assert len(lru) == 0


def test_clear_reports_what_it_dropped(clock: FakeClock) -> None:
    lru: LocalLRU[int] = LocalLRU(10, clock)
    for index in range(7):
        lru.put(str(index), index, clock() + 5)
    assert lru.clear() == 7
    assert lru.get("3") is MISS


def test_rejects_a_non_positive_size() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        LocalLRU(0)


def test_size_bound_holds_under_threads(clock: FakeClock) -> None:
    lru: LocalLRU[int] = LocalLRU(100, clock)

    def fill(offset: int) -> None:
        for index in range(1000):
            lru.put(f"{offset}:{index}", index, clock() + 60)
            lru.get(f"{offset}:{index // 2}")

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(lru) == 100
