"""The checker on hand-made histories: each kind of stale answer is caught, nothing else is.

Times are seconds from an arbitrary origin. Every history holds one clear started at 10 and
reported complete at 12 unless the test says otherwise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmix_workers.testing.nemesis import history
from llmix_workers.testing.nemesis.checker import check
from llmix_workers.testing.nemesis.history import Call, Clear, Event, Injected, Lookup

CLEAR = Clear("c1", "cli", start=10.0, end=12.0, complete=True)


def calls(*pairs: tuple[int, float]) -> list[Event]:
    return [Call(number, at) for number, at in pairs]


def hit(call: int, start: float, *, tier: str = "l1", process: str = "w1@llmix",
        via: str = "worker", key: str = "k1", lookup_id: str = "L") -> Lookup:  # fmt: skip
    return Lookup(lookup_id, process, key, start, start + 0.01, tier, call, via)  # type: ignore[arg-type]


# -- histories that must fail: one per way a stale answer comes back ----------------------------


def test_l1_entry_served_by_a_partitioned_worker_after_the_clear() -> None:
    events = [
        *calls((1, 2.0)),
        Injected("partition worker-cache", "w1", 5.0, 20.0),
        CLEAR,
        hit(1, 13.0, tier="l1"),
    ]
    verdict = check(events)
    assert len(verdict.violations) == 1
    violation = verdict.violations[0]
    assert violation.clear is CLEAR and violation.origin == 2.0
    assert violation.kind == "l1 on worker"
    assert violation.faults == ("partition worker-cache",)
    assert "8.000s before that clear started" in violation.describe()


def test_l2_entry_written_across_the_clear_by_the_check_then_write_race() -> None:
    """The provider call began at 9.5 (before the clear), its answer landed in L2 after the
    clear's deletion: a lookup on another worker finds it after the report."""
    events = [*calls((7, 9.5)), CLEAR, hit(7, 12.5, tier="l2", process="w2@llmix")]
    verdict = check(events)
    assert [v.kind for v in verdict.violations] == ["l2 on worker"]


def test_l2_entry_back_after_a_failover() -> None:
    events = [
        *calls((3, 4.0)),
        CLEAR,
        Injected("failover after clear", "cache", 12.2, 16.0),
        hit(3, 17.0, tier="l2"),
    ]
    verdict = check(events)
    assert len(verdict.violations) == 1
    assert verdict.violations[0].faults == ("failover after clear",)


def test_producer_hit_from_its_own_memory_while_cut_off() -> None:
    events = [*calls((2, 1.0)), CLEAR, hit(2, 30.0, tier="l1", process="producer", via="producer")]
    assert check(events).by_kind() == {"l1 on producer": 1}


def test_worker_with_a_skewed_clock_that_the_clear_skipped() -> None:
    events = [
        *calls((5, 8.0)),
        Injected("clock skew", "w3", 0.0, 40.0),
        CLEAR,
        hit(5, 12.001, process="w3@llmix"),
    ]
    verdict = check(events)
    assert verdict.by_fault() == {"clock skew": 1}


def test_a_violation_names_the_latest_clear_it_survived() -> None:
    later = Clear("c2", "task", start=20.0, end=21.0, complete=True)
    events = [*calls((1, 2.0)), CLEAR, later, hit(1, 25.0)]
    assert check(events).violations[0].clear is later


def test_every_stale_lookup_is_reported() -> None:
    events = [*calls((1, 2.0), (2, 3.0)), CLEAR,
              *(hit(1 + i % 2, 13.0 + i, lookup_id=f"L{i}") for i in range(5))]  # fmt: skip
    verdict = check(events)
    assert [v.lookup.id for v in verdict.violations] == [f"L{i}" for i in range(5)]
    assert verdict.judged == 5 and verdict.hits == 5


# -- histories that must pass -------------------------------------------------------------------


def test_entry_from_a_call_after_the_clear_started_is_fine() -> None:
    events = [*calls((4, 10.5)), CLEAR, hit(4, 13.0)]
    verdict = check(events)
    assert verdict.ok and verdict.judged == 1


def test_incomplete_clears_promise_nothing() -> None:
    incomplete = Clear("c1", "broadcast", start=10.0, end=15.0, complete=False)
    events = [*calls((1, 2.0)), incomplete, hit(1, 16.0)]
    verdict = check(events)
    assert verdict.ok and verdict.judged == 0 and verdict.complete_clears == 0


def test_a_lookup_that_started_before_the_report_is_not_judged() -> None:
    events = [*calls((1, 2.0)), CLEAR, hit(1, 11.99)]
    verdict = check(events)
    assert verdict.ok and verdict.judged == 0


def test_misses_are_not_judged() -> None:
    miss = Lookup("L", "w1@llmix", "k1", 13.0, 13.2, None, 9)
    verdict = check([*calls((9, 1.0)), CLEAR, miss])
    assert verdict.ok and verdict.hits == 0 and verdict.lookups == 1


def test_a_hit_without_a_traceable_origin_is_reported_apart() -> None:
    events: list[Event] = [CLEAR, hit(42, 13.0)]
    verdict = check(events)
    assert verdict.ok
    assert [lookup.call for lookup in verdict.untraced] == [42]


@pytest.mark.parametrize("origin", [10.0, 10.001, 11.0])
def test_the_boundary_is_the_clear_start(origin: float) -> None:
    assert check([*calls((1, origin)), CLEAR, hit(1, 12.5)]).ok


def test_history_round_trips_through_jsonl(tmp_path: Path) -> None:
    events: list[Event] = [
        *calls((1, 2.0)),
        Injected("pause redis", "cache", 1.0, 2.0),
        CLEAR,
        hit(1, 13.0),
    ]
    path = tmp_path / "history.jsonl"
    recorder = history.Recorder(path)
    for event in events:
        recorder.add(event)
    recorder.close()
    with path.open("ab") as out:
        out.write(b'{"type": "run", "seed": 7}\n{"type": "lookup", "id"')  # metadata, torn line
    assert history.read([path]) == events
    assert len(check(history.read([path])).violations) == 1


def test_a_violation_names_only_faults_between_the_clear_and_the_lookup() -> None:
    events = [
        *calls((1, 2.0)),
        Injected("cache Redis paused", "cache", 3.0, 4.0),  # over before the clear began
        Injected("worker-cache partition", "w1", 8.0, 20.0),
        CLEAR,
        hit(1, 13.0),
    ]
    assert check(events).violations[0].faults == ("worker-cache partition",)
