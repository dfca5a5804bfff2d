"""Stamp: which L2 entries a process at a given epoch and generation may serve."""

from __future__ import annotations

import pytest

from llmix_workers.cache.backend import MISS, Miss
from llmix_workers.cache.backends.memory import MemoryL2
from llmix_workers.cache.entry import decode_entry
from llmix_workers.cache.invalidation import LocalInvalidator
from llmix_workers.cache.stamp import STAMP_FIELD, Stamp
from llmix_workers.cache.tiered import CacheHit, TwoTierCache
from llmix_workers.settings import CacheSettings

AT_5 = Stamp("9f2c4a1be0d3f7a1", 5)
KEY = "llmix:resp:v2:" + "ab" * 32


@pytest.mark.parametrize(
    ("tag", "admitted"),
    [
        (None, True),  # untagged: another LLMix binding wrote it; a clear deletes those
        ("9f2c4a1be0d3f7a1:5", True),
        ("9f2c4a1be0d3f7a1:6", True),  # a writer ahead of this process: after the clear
        ("9f2c4a1be0d3f7a1:4", False),  # computed before the clear this process has seen
        ("9f2c4a1be0d3f7a1:0", False),
        ("0000000000000000:9", False),  # another life of the fleet state
        ("9f2c4a1be0d3f7a1:", False),
        ("9f2c4a1be0d3f7a1:-6", False),
        ("9f2c4a1be0d3f7a1:٦", False),  # a non-ASCII digit
        ("garbage", False),
        (6, False),
        ("", False),
    ],
)
def test_which_tags_a_stamp_admits(tag: object, admitted: bool) -> None:
    assert AT_5.admits(tag) is admitted


def test_a_stamp_outside_a_fleet_tags_nothing_and_admits_everything() -> None:
    local = Stamp("local", 3, fleet=False)
    assert local.tag is None
    assert local.admits("9f2c4a1be0d3f7a1:0") and local.admits(None)


def test_stamps_compare_by_value_and_carry_their_tag() -> None:
    assert Stamp("e", 1) == Stamp("e", 1) != Stamp("e", 2)
    assert Stamp("e", 12).tag == "e:12"


class FixedInvalidator(LocalInvalidator):
    """A fleet-like invalidator whose stamp the test sets."""

    def __init__(self, stamp: Stamp) -> None:
        super().__init__()
        self.stamp: Stamp | None = stamp

    def current(self) -> Stamp | None:
        return self.stamp


def test_entries_carry_the_writers_stamp_and_older_ones_are_skipped() -> None:
    l2 = MemoryL2()
    writer = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=FixedInvalidator(AT_5))
    assert writer.set(KEY, "at five")
    raw = l2.get(KEY)
    assert raw is not MISS
    entry = decode_entry(raw, 0.0)
    assert entry is not None and entry.extra == {STAMP_FIELD: AT_5.tag}
    later = FixedInvalidator(Stamp(AT_5.epoch, 6))
    reader = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=later)
    assert reader.get(KEY) is MISS and reader.get_many([KEY]) == [MISS]
    same = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=FixedInvalidator(AT_5))
    assert isinstance(same.get(KEY), CacheHit)


class MovingInvalidator(FixedInvalidator):
    """Moves to ``AT_6`` (stamp first, then L1 replaced, as FleetMember does) at a set moment."""

    def move(self) -> None:
        self.stamp = AT_6
        assert self._cache is not None
        self._cache.clear_l1()


AT_6 = Stamp(AT_5.epoch, 6)


def test_a_back_fill_racing_a_stamp_move_never_reaches_the_new_l1() -> None:
    invalidator = MovingInvalidator(AT_5)

    class MovingL2(MemoryL2):
        def get(self, key: str) -> bytes | Miss:
            found = super().get(key)
            invalidator.move()  # the process adopts a new generation mid-lookup
            return found

    l2 = MovingL2()
    writer = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=FixedInvalidator(AT_5))
    writer.set(KEY, "at five")
    cache = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=invalidator)
    assert isinstance(cache.get(KEY), CacheHit)  # started under five: served as it was
    assert cache.get(KEY) is MISS  # the back-fill went to the discarded L1; L2's is too old


def test_a_write_racing_a_stamp_move_is_dropped() -> None:
    invalidator = MovingInvalidator(AT_5)
    cache = TwoTierCache("redis", CacheSettings(), l2=MemoryL2(), invalidator=invalidator)
    epoch = cache.epoch()
    invalidator.move()
    assert cache.set(KEY, "computed across a clear", epoch=epoch) is False
    assert cache.get(KEY) is MISS and cache.stats().l1_size == 0


def test_a_process_that_cannot_prove_it_is_current_serves_and_stores_nothing() -> None:
    invalidator = FixedInvalidator(AT_5)
    l2 = MemoryL2()
    cache = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=invalidator)
    cache.set(KEY, "cached")
    invalidator.stamp = None
    assert cache.get(KEY) is MISS and cache.get_many([KEY]) == [MISS]
    assert cache.set(KEY + "x", "new") is False
    assert cache.stats().generation is None
    invalidator.stamp = AT_5
    assert isinstance(cache.get(KEY), CacheHit)
