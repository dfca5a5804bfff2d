"""The nemesis suite's clusters, shared by its tests, and its figures recorder.

The clusters need root (network namespaces, ``tc``) and libfaketime (the skewed worker). Where
they are missing, a test that needs them fails saying what to install when ``CI=true`` and is
skipped with the reason otherwise. ``LLMIX_RECORD_RELIABILITY=1`` writes each run's figures into
docs/reliability.json (``make nemesis``); a plain run leaves the tree alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from docgen.reliability import JSON_PATH
from llmix_workers.testing.nemesis import figures, scenarios, skew
from llmix_workers.testing.nemesis.cluster import ClusterSpec, NemesisCluster
from llmix_workers.testing.nemesis.netns import NetnsUnavailable, clean_stale, require_netns
from llmix_workers.testing.nemesis.runner import Runner, RunResult

Record = Callable[[RunResult], None]


def need(check: Callable[[], Any]) -> None:
    """Run ``check``; on NetnsUnavailable fail under CI, skip elsewhere, saying why."""
    try:
        check()
    except NetnsUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the nemesis suite cannot run here: {exc}")
        pytest.skip(f"the nemesis suite needs root and network namespaces: {exc}")


@pytest.fixture(scope="session")
def netns() -> None:
    need(require_netns)
    clean_stale()


def _cluster(spec: ClusterSpec, workdir: Path) -> Iterator[Runner]:
    cluster = NemesisCluster(spec, workdir)
    try:
        cluster.start()
        runner = Runner(cluster, workdir).start()
        try:
            yield runner
        finally:
            runner.close()
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def standalone(netns: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """Three workers on one cache Redis; ``w3`` runs under libfaketime."""
    need(skew.library)
    spec = ClusterSpec(skewed=(scenarios.SKEWED,))
    yield from _cluster(spec, tmp_path_factory.mktemp("nemesis-standalone"))


@pytest.fixture(scope="session")
def sentinel(netns: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """Three workers on a primary + replica + 3 sentinels, each on a host of its own."""
    yield from _cluster(ClusterSpec(sentinel=True), tmp_path_factory.mktemp("nemesis-sentinel"))


@pytest.fixture(scope="session")
def record() -> Iterator[Record]:
    rows: list[dict[str, Any]] = []
    yield lambda result: rows.append(figures.run_figures(
        result.schedule.name, result.schedule.seed, result.verdict, result.events))  # fmt: skip
    if rows and os.environ.get("LLMIX_RECORD_RELIABILITY") == "1":
        figures.merge(rows, JSON_PATH)
