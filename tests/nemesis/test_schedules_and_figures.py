"""Schedules are reproducible from their seed and well formed; figures are read right from a
history. No root needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docgen import reliability as reliability_report
from llmix_workers.testing.nemesis import faults, figures, scenarios
from llmix_workers.testing.nemesis.checker import check
from llmix_workers.testing.nemesis.history import Call, Clear, Event, Injected, Lookup
from llmix_workers.testing.nemesis.netns import NetnsUnavailable
from llmix_workers.testing.nemesis.schedule import Schedule
from tests.nemesis.conftest import need


@pytest.mark.parametrize("seed", [1, 7, 8, 12345])
def test_a_seed_gives_the_same_well_formed_mix(seed: int) -> None:
    schedule = scenarios.mixed(seed)
    assert schedule == scenarios.mixed(seed)
    assert schedule != scenarios.mixed(seed + 1)
    assert_well_formed(schedule)
    assert schedule.faults() & {faults.WORKER_CACHE, faults.WORKER_BROKER, faults.PRODUCER_CACHE}
    assert sum(step.action == "clear" for step in schedule.steps) >= 5


@pytest.mark.parametrize("kind", [*scenarios.STANDALONE_KINDS, faults.FAILOVER])
def test_aimed_schedules_end_with_a_clear_after_every_heal(kind: str) -> None:
    schedule = scenarios.aimed(kind)
    assert_well_formed(schedule)
    assert kind in schedule.faults()
    last_fault_end = max(s.at_s for s in schedule.steps if s.action in ("heal", "failover",
                                                                          "clear+fault"))  # fmt: skip
    # ... and not a CLI clear (seconds of Python start-up on a loaded machine), with time left
    # for lookups after it
    assert any(s.action == "clear" and s.how != "cli" and last_fault_end < s.at_s
               < schedule.seconds - 1.5 for s in schedule.steps)  # fmt: skip


def test_the_in_flight_write_schedule_clears_during_each_cut() -> None:
    schedule = scenarios.in_flight_write()
    assert_well_formed(schedule)
    cuts = [s.at_s for s in schedule.steps if s.kind == faults.WORKER_CACHE]
    for start, end in zip(cuts[::2], cuts[1::2], strict=True):
        assert any(s.action == "clear" and start < s.at_s < end for s in schedule.steps)


def assert_well_formed(schedule: Schedule) -> None:
    times = [step.at_s for step in schedule.steps]
    assert times == sorted(times) and 0 <= times[0] and times[-1] < schedule.seconds
    open_faults: set[tuple[str, str]] = set()
    for step in schedule.steps:
        if step.action in ("inject", "heal", "clear+fault"):
            assert step.kind in faults.KINDS
        if step.action == "inject":
            assert (step.kind, step.target) not in open_faults
            open_faults.add((step.kind, step.target))
        elif step.action == "heal":
            open_faults.remove((step.kind, step.target))
    assert not open_faults  # every fault healed within the schedule


def history() -> list[Event]:
    """w1 cut from 10 to 20: 3 calls while cut, 4 lookups (fleet miss rate outside: 1/4)."""
    return [
        Injected(faults.WORKER_CACHE, "w1", 10.0, 20.0),
        *(Call(n, 11.0 + n, "w1") for n in range(1, 4)),
        Call(9, 25.0, "w2"),
        *(Lookup(f"L{i}", "w1@llmix", "k1", 12.0 + i, 12.5 + i) for i in range(4)),
        *(Lookup(f"C{i}", "w2@llmix", "k2", 30.0 + i, 30.1 + i, "l2", 9) for i in range(3)),
        Lookup("M", "w2@llmix", "k3", 34.0, 34.2),
        Lookup("H1", "w1@llmix", "k1", 19.0, 19.1, "l1", 1),  # before the heal: not counted
        Lookup("H2", "w1@llmix", "k1", 21.0, 21.75, "l1", 1),
        Clear("c", "task", 40.0, 41.0, True),
    ]


def test_partition_calls_count_calls_while_cut_beyond_the_usual_misses() -> None:
    assert figures.partition_calls(history()) == (3, 2)  # 4 lookups x 1/4 = 1 expected


def test_heal_to_l1_is_the_end_of_the_first_l1_hit_after_the_heal() -> None:
    assert figures.heal_to_l1(history()) == pytest.approx(1.75)
    assert figures.heal_to_l1([]) is None


def test_figures_reach_the_reliability_page(tmp_path: Path) -> None:
    events = history()
    row = figures.run_figures("aimed: x", 3, check(events), events)
    path = tmp_path / "reliability.json"
    path.write_text(json.dumps({"scenarios": {}}))
    figures.merge([row], path)
    figures.merge([{**row, "lookups": 99}], path)  # same name: replaced, not added
    data = json.loads(path.read_text())
    assert list(data["nemesis"]) == ["aimed: x"] and data["nemesis"]["aimed: x"]["lookups"] == 99
    page = reliability_report.render(data)
    assert "## Nemesis: a completed clear is final" in page
    assert "| aimed: x | 3 | 99 | 0 | 1 (1) | 0 | 3 (2) | 1.75 |  |" in page
    assert "Total: 1 runs, 99 lookups" in page


def unavailable() -> None:
    raise NetnsUnavailable("the nemesis needs root (ip netns, tc): run as root")


def test_missing_namespaces_fail_under_ci_naming_what_is_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run here: .*run as root"):
        need(unavailable)


def test_missing_namespaces_skip_elsewhere_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs root and network namespaces"):
        need(unavailable)


def test_every_schedule_names_the_command_that_replays_it() -> None:
    assert scenarios.replay(scenarios.mixed(7)).endswith("--mixed 7 --seconds 26")
    assert scenarios.replay(scenarios.in_flight_write()).endswith("--aimed write")
    assert scenarios.replay(scenarios.aimed(faults.FAILOVER)).endswith(
        f"--sentinel --aimed '{faults.FAILOVER}'"
    )
    assert scenarios.replay(scenarios.aimed(faults.REDIS_PAUSED)).endswith(
        f" --aimed '{faults.REDIS_PAUSED}'"
    )
