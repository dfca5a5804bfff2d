"""Shared fixtures: a private redis-server for the session, flushed around each test."""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, settings

from llmix_workers.errors import ConfigError
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from llmix_workers.testing.redis_cluster import PrivateCluster
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.testing.topology import TopologyServers

#: pytester runs a user's test session against the package's own plugin (tests/unit/test_plugin.py).
pytest_plugins = ["pytester"]

# Hypothesis's per-example deadline (200 ms) and its too_slow health check judge speed, which a
# loaded machine changes from run to run; no property here is about speed.
settings.register_profile("llmix", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("llmix")

# Tests press Ctrl-C on a CLI (SIGINT to `enqueue --wait`, to the demo): the CLI must start with
# SIGINT at its default. A suite launched as a background job of a shell without job control
# (a CI script's `cmd &`) ignores SIGINT, children inherit an ignored signal across exec, and
# Python then never raises KeyboardInterrupt: the CLI would run on (two CI runs of this session).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[PrivateRedis]:
    try:
        server = PrivateRedis().start()
    except ConfigError as exc:
        pytest.fail(f"these tests need a redis-server: {exc}")
    yield server
    server.close()


def ensure_running(server: PrivateRedis) -> None:
    """Bring the server back after a test killed or paused it."""
    if server.pid is None:
        server.start()
        return
    server.resume()
    if not server.ping():
        server.kill()
        server.start()


@pytest.fixture
def redis_url(redis_server: PrivateRedis) -> Iterator[str]:
    """URL of the private Redis, running and empty at the start of the test."""
    ensure_running(redis_server)
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url
    ensure_running(redis_server)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """When a test fails, attach the log tails of its fleet's worker processes to the report:
    they live in temporary directories that are gone by the time anyone reads the CI log.
    With ``LLMIX_KEEP_WORKER_LOGS=<dir>``, the whole logs are also copied to ``<dir>/<test>/``."""
    report = yield
    if report.failed:
        keep = os.environ.get("LLMIX_KEEP_WORKER_LOGS")
        for worker in _workers_of(getattr(item, "funcargs", {})):
            report.sections.append((f"worker {worker.hostname} log (tail)", worker.log_tail(3000)))
            if keep and worker.log_path.exists():
                folder = Path(keep) / re.sub(r"[^\w.-]+", "_", item.nodeid)
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copy(worker.log_path, folder)
    return report


def _workers_of(funcargs: dict[str, object]) -> list[LocalWorker]:
    workers: dict[int, LocalWorker] = {}
    for value in funcargs.values():
        # a fleet, a worker, or a fixture object holding them (one level down)
        held = [value, *getattr(value, "__dict__", {}).values()]
        for item in held:
            found = item.workers if isinstance(item, LocalFleet) else [item]
            workers.update((id(w), w) for w in found if isinstance(w, LocalWorker))
    return list(workers.values())


@pytest.fixture(scope="session")
def cluster(llmix_topology_servers: TopologyServers) -> PrivateCluster:
    """The session's 3-primary Redis Cluster (the cluster topology's)."""
    try:
        return llmix_topology_servers.cluster()
    except ConfigError as exc:
        pytest.fail(f"these tests need redis-server and redis-cli with cluster support: {exc}")


@pytest.fixture
def cluster_url(cluster: PrivateCluster) -> str:
    """The cluster's URL, every node emptied first."""
    cluster.flush()
    return cluster.url
