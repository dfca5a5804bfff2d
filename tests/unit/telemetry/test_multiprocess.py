"""Prefork metrics with real child processes writing to one node folder.

The children are spawned, not forked: a fork copies whatever locks the other tests' threads hold
in this (pytest-xdist) process at that instant, and a child that inherits one held hangs before
it writes a sample (seen in CI: "child 1 did not start"). A spawned child inherits
``PROMETHEUS_MULTIPROC_DIR`` and writes its own per-pid files, which is what a prefork child
does and what these tests add up.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, values

from llmix_workers.settings import TelemetrySettings
from llmix_workers.telemetry import multiprocess as mp
from llmix_workers.telemetry.metrics import Metrics

CHILDREN = multiprocessing.get_context("spawn")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Path]:
    before = os.environ.get(mp.ENV_VAR)
    path = mp.prepare_node_dir(tmp_path, "celery@node-1")
    yield path
    mp.leave_multiprocess_mode()
    if before is not None:
        os.environ[mp.ENV_VAR] = before


def child(index: int, ready: Event, release: Event | None) -> None:
    """A prefork child: builds its own Metrics, as the runtime does after fork."""
    metrics = Metrics.from_settings(TelemetrySettings(), CollectorRegistry())
    metrics.worker_process(True)
    metrics.l2_healthy(index != 2)
    metrics.l1_entries(10 * (index + 1))
    metrics.generation(9 if index == 0 else index + 5)
    metrics.breaker_state("openai", "OPEN" if index == 1 else "CLOSED")
    for _ in range(index + 1):
        metrics.lookup("l1_hit")
    metrics.completion("openai", "gpt-4o", "ok", "miss", 0.2 * (index + 1))
    ready.set()
    if release is not None:
        release.wait(60)


def start(index: int, stay: bool) -> tuple[multiprocessing.process.BaseProcess, Event]:
    ready, release = CHILDREN.Event(), CHILDREN.Event()
    process = CHILDREN.Process(target=child, args=(index, ready, release if stay else None))
    process.start()
    assert ready.wait(60), f"child {index} did not start"
    return process, release


def test_prepare_switches_value_class_and_wipes_the_folder(tmp_path: Path) -> None:
    stale = mp.node_dir(tmp_path, "celery@node-1")
    stale.mkdir(parents=True)
    (stale / "counter_999999.db").write_bytes(b"stale")
    (tmp_path / "keep.txt").write_text("not ours")
    assert not mp.is_multiprocess_mode()
    try:
        path = mp.prepare_node_dir(tmp_path, "celery@node-1")
        assert path == tmp_path / "llmix-metrics-celery_node-1"
        assert list(path.iterdir()) == []
        assert (tmp_path / "keep.txt").exists()
        assert os.environ[mp.ENV_VAR] == str(path)
        assert mp.is_multiprocess_mode()
        Metrics.from_settings(TelemetrySettings(), CollectorRegistry()).lookup("miss")
        assert (path / f"counter_{os.getpid()}.db").exists()
    finally:
        mp.leave_multiprocess_mode()
    assert not mp.is_multiprocess_mode()
    assert mp.ENV_VAR not in os.environ
    assert values.ValueClass is values.MutexValue


def test_children_add_up_and_dead_children_leave_live_gauges(node: Path) -> None:
    dead = [start(index, stay=False) for index in (0, 1)]
    live = [start(index, stay=True) for index in (2, 3)]
    for process, _ in dead:
        process.join(60)
        assert process.exitcode == 0
        mp.mark_dead(process.pid or 0)
    registry = mp.multiprocess_registry(node)

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("llmix_cache_lookups_total", outcome="l1_hit") == 1 + 2 + 3 + 4
    assert sample("llmix_cache_lookups_total", outcome="miss") == 0
    completions = {"provider": "openai", "model": "gpt-4o", "outcome": "ok"}
    assert sample("llmix_completions_total", **completions) == 4
    assert sample("llmix_completion_duration_seconds_count", cache="miss") == 4
    assert sample("llmix_completion_duration_seconds_sum", cache="miss") == pytest.approx(2.0)
    assert sample("llmix_completion_duration_seconds_bucket", cache="miss", le="0.5") == 2
    assert sample("llmix_worker_processes") == 2
    assert sample("llmix_l1_entries") == 30 + 40
    assert sample("llmix_l2_healthy") == 0
    assert sample("llmix_fleet_generation") == 8
    assert sample("llmix_circuit_breaker_state", provider="openai") == 0

    unhealthy, release = live[0]
    release.set()
    unhealthy.join(60)
    mp.mark_dead(unhealthy.pid or 0)
    assert sample("llmix_l2_healthy") == 1
    assert sample("llmix_worker_processes") == 1
    assert sample("llmix_l1_entries") == 40
    assert sample("llmix_cache_lookups_total", outcome="l1_hit") == 10

    last, release = live[1]
    release.set()
    last.join(60)
    mp.mark_dead(last.pid or 0)
    mp.mark_dead(last.pid or 0)
    assert sample("llmix_worker_processes") is None
    assert sample("llmix_cache_lookups_total", outcome="l1_hit") == 10


def test_mark_dead_outside_multiprocess_mode_is_a_no_op() -> None:
    mp.mark_dead(os.getpid())
