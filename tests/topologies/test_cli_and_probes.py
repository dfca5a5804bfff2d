"""The command line and a node's probes on every topology (issue 21, defect 1).

Each module-level fleet runs on one topology of the matrix (standalone, Sentinel, Cluster for
L2 and fleet state; RabbitMQ as broker): ``enqueue``, ``cache stats``, ``workers`` and
``cache clear`` must work there as on a standalone Redis, and ``/readyz`` must say ready. They
used to open Redis with ``redis.Redis.from_url`` (exit 2 on ``redis+cluster://`` and
``redis+sentinel://``, and a ``/readyz`` stuck at 503).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from llmix_workers.testing.redis_server import free_port
from llmix_workers.testing.topology import Topology
from llmix_workers.wiring.redis import redis_for
from tests.celery.jobs import request
from tests.celery.scrape import eventually, probe, scrape

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CLI = [sys.executable, "-m", "llmix_workers"]


NODES = [("w1@llmix", "threads", 4), ("w2@llmix", "prefork", 2)]


@pytest.fixture(scope="module")
def fleet(topology: Topology) -> Iterator[LocalFleet]:
    with topology.fleet() as local:
        local.add_worker("w1", concurrency=4, metrics_port=free_port())
        local.add_worker("w2", pool="prefork", concurrency=2, metrics_port=free_port())
        yield local


@pytest.fixture(scope="module")
def nodes(fleet: LocalFleet) -> list[LocalWorker]:
    return fleet.workers[:2]


def cli(fleet: LocalFleet, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=fleet.env() | env, cwd=fleet.workdir,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def cli_json(fleet: LocalFleet, *args: str) -> Any:
    done = cli(fleet, *args, "--json")
    assert done.returncode == 0, f"{args}: exit {done.returncode}: {done.stderr[-800:]}"
    return json.loads(done.stdout)


def test_the_nodes_are_live_and_ready(nodes: list[LocalWorker]) -> None:
    for node in nodes:
        ready = lambda node=node: probe(node, "/readyz") == 200  # noqa: E731
        eventually(ready, f"/readyz 200 on {node.name}")
        assert probe(node, "/healthz") == 200


def test_enqueue_wait_answers_through_the_cache(fleet: LocalFleet, topology: Topology) -> None:
    assert fleet.stub is not None
    before = fleet.stub.calls()["total"]
    for attempt in ("miss", "hit"):
        done = cli(fleet, "enqueue", f"Hello from {topology.name}", "--wait", "--no-cache-first")
        assert done.returncode == 0, f"{attempt}: {done.stderr[-800:]}"
    assert fleet.stub.calls()["total"] == before + 1  # the second was a hit


def test_cache_stats_lists_the_worker_and_the_l2_entries(fleet: LocalFleet) -> None:
    cli(fleet, "enqueue", "Something to count", "--wait")
    stats = cli_json(fleet, "cache", "stats")
    processes = sorted(p["node"] for p in stats["processes"])
    assert processes == ["w1@llmix", "w2@llmix", "w2@llmix"] and stats["silent"] == []
    assert stats["l2Keys"] >= 1


def test_workers_lists_the_process(fleet: LocalFleet) -> None:
    rows = cli_json(fleet, "workers")["processes"]
    found = sorted({(row["node"], row["pool"], row["concurrency"]) for row in rows})
    assert found == NODES and len(rows) == 3  # the prefork node: one row per child


def test_cache_clear_is_complete_and_acknowledged(fleet: LocalFleet) -> None:
    cli(fleet, "enqueue", "Something to clear", "--wait")
    report = cli_json(fleet, "cache", "clear")
    assert report["complete"] is True and report["l2Deleted"] >= 1
    assert len(report["acks"]) == 3  # every process holding an L1: threads, two children
    assert cli_json(fleet, "cache", "stats")["l2Keys"] == 0


def producer_hits(nodes: list[LocalWorker]) -> float:
    return sum(scrape(n).value("llmix_cache_lookups_total", outcome="producer_hit") for n in nodes)


def test_producer_hits_are_counted_once_by_the_fleet(
    fleet: LocalFleet, nodes: list[LocalWorker], topology: Topology
) -> None:
    """Jobs a cache-first producer answers are counted where Prometheus scrapes, once in the
    fleet (defect 3): as ``producer_hit`` lookups and completions on one worker process."""
    producer = CompletionProducer(fleet.settings())
    jobs = [request(f"Answered by the producer on {topology.name}, {n}") for n in range(6)]
    assert all(o.ok for o in producer.run_batch(jobs, timeout_s=60))  # the workers fill L2
    before = producer_hits(nodes)
    again = producer.run_batch(jobs, timeout_s=60)
    assert [o.worker for o in again] == ["producer"] * 6
    eventually(lambda: producer_hits(nodes) == before + 6, "6 producer hits counted")
    keys = FleetKeys.for_prefix(producer.settings.cache.key_prefix)
    client = redis_for(producer.settings, "control")
    assert client.llen(keys.producer_answers) == 0  # all taken: nothing left to count twice
    client.close()


def test_a_node_without_its_cache_redis_is_ready_and_serves(fleet: LocalFleet) -> None:
    """Readiness is the broker's (defect 2): a node started while its L2 Redis is down becomes
    ready and answers jobs from the provider; the L2 gauge says what is wrong."""
    dead = {"LLMIX_REDIS__URL": f"redis://127.0.0.1:{free_port()}/0",
            "LLMIX_FLEET__REDIS_URL": fleet.redis_url,
            "LLMIX_TELEMETRY__READINESS_TIMEOUT_S": "5"}  # fmt: skip
    saved = dict(fleet.worker_env)
    fleet.worker_env.update(dead)
    try:
        node = fleet.add_worker("nol2", queues="nol2", concurrency=2, metrics_port=free_port())
    finally:
        fleet.worker_env.clear()
        fleet.worker_env.update(saved)
    try:
        eventually(lambda: probe(node, "/readyz") == 200, "/readyz 200 without L2")
        producer = CompletionProducer(fleet.settings())
        jobs = [request(f"No cache {n}") for n in range(3)]  # three failed writes: unhealthy
        outcomes = producer.run_batch(jobs, queue="nol2", cache_first=False, timeout_s=60)
        assert [o.error for o in outcomes] == [None] * 3
        eventually(lambda: scrape(node).value("llmix_l2_healthy") == 0, "llmix_l2_healthy 0")
        assert probe(node, "/readyz") == 200
    finally:
        node.stop()
        fleet.workers.remove(node)
