"""Stamp: which L2 entries a process at a given epoch and generation may serve."""

from __future__ import annotations

import pytest

from llmix_workers.cache.backend import MISS
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


def test_an_l1_entry_is_served_only_under_the_stamp_it_was_stored_under() -> None:
    invalidator = FixedInvalidator(AT_5)
    cache = TwoTierCache("memory", CacheSettings(), invalidator=invalidator)
    cache.set(KEY, "at five")
    assert isinstance(cache.get(KEY), CacheHit)
    invalidator.stamp = Stamp(AT_5.epoch, 6)  # moved without dropping L1 (a racing back-fill)
    assert cache.get(KEY) is MISS and cache.get_many([KEY]) == [MISS]


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


def test_an_answer_begun_before_a_move_is_not_stored() -> None:
    invalidator = FixedInvalidator(AT_5)
    cache = TwoTierCache("redis", CacheSettings(), l2=MemoryL2(), invalidator=invalidator)
    epoch = cache.epoch()
    invalidator.stamp = Stamp(AT_5.epoch, 6)
    assert cache.set(KEY, "computed across a clear", epoch=epoch) is False
