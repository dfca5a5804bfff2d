"""The fleet suite: what must hold on every topology, with real workers (a threads node and a
prefork node of two children) on one module-level fleet per topology.

Each ``test_on_<topology>.py`` module runs it on one topology of the matrix (standalone, Sentinel,
Cluster for L2 and fleet state; RabbitMQ as broker), so pytest-xdist spreads the topologies over
its workers: jobs through the cache, single flight across the fleet, the clear (CLI, Celery
broadcast) reaching every process, the command line, the probes, and producer hits counted.
Issue 21 defect 1: the CLI and ``/readyz`` used to open Redis with ``redis.Redis.from_url``
(exit 2 on ``redis+cluster://`` and ``redis+sentinel://``, and a ``/readyz`` stuck at 503).
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
from llmix_workers.worker.control import CONTROL_CACHE_CLEAR
from tests.celery.jobs import calls_for, request
from tests.celery.scrape import eventually, probe, scrape

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CLI = [sys.executable, "-m", "llmix_workers"]


NODES = [("w1@llmix", "threads", 4), ("w2@llmix", "prefork", 2)]
#: Short lock timings (a lock kept alive by a thread that a loaded machine may hold up for a
#: second or two), one job at a time per child (each is told which node runs it), a Retry-After
#: over 1.5 s re-queues the job, and clears and stats that wait long enough for a CPU-starved
#: process (they return as soon as every process has answered).
FLEET_ENV = {
    "LLMIX_FLEET__LOCK_TTL_S": "5",
    "LLMIX_FLEET__CLEAR_TIMEOUT_S": "60",
    "LLMIX_WORKER__PREFETCH_MULTIPLIER": "1",
    "LLMIX_LLM__TIMEOUT_S": "20",
    "LLMIX_LLM__MAX_INLINE_WAIT_S": "1.5",
}


@pytest.fixture(scope="module")
def fleet(llmix_topology: Topology) -> Iterator[LocalFleet]:
    with llmix_topology.fleet(worker_env=FLEET_ENV) as local:
        local.add_worker("w1", queues="llmix,w1", concurrency=4, metrics_port=free_port())
        local.add_worker("w2", queues="llmix,w2", pool="prefork", concurrency=2,
                         metrics_port=free_port())  # fmt: skip
        yield local


@pytest.fixture(scope="module")
def producer(fleet: LocalFleet) -> CompletionProducer:
    return CompletionProducer(fleet.settings(producer={"cache_first": False}))


def warm_every_process(producer: CompletionProducer, req: dict[str, Any]) -> None:
    """Put ``req`` in the L1 of the threads node and of both prefork children."""
    producer.complete(req, queue="w1")
    for _ in range(6):  # two children take turns; six rounds reach both
        producer.complete(req, queue="w2")


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


def test_enqueue_wait_answers_through_the_cache(
    fleet: LocalFleet, llmix_topology: Topology
) -> None:
    assert fleet.stub is not None
    before = fleet.stub.calls()["total"]
    for attempt in ("miss", "hit"):
        done = cli(
            fleet, "enqueue", f"Hello from {llmix_topology.name}", "--wait", "--no-cache-first"
        )
        assert done.returncode == 0, f"{attempt}: {done.stderr[-800:]}"
    assert fleet.stub.calls()["total"] == before + 1  # the second was a hit


def test_a_job_is_called_once_then_served_from_l1_and_l2(
    fleet: LocalFleet, producer: CompletionProducer
) -> None:
    req = request("Called once.")
    first = producer.complete(req, queue="w1")
    assert first["cacheHit"] is None and first["worker"] == "w1@llmix"
    assert producer.complete(req, queue="w1")["cacheHit"] == "l1"
    assert producer.complete(req, queue="w2")["cacheHit"] == "l2"
    assert calls_for(fleet, req) == 1


def test_fifty_identical_new_requests_make_one_provider_call(
    fleet: LocalFleet, producer: CompletionProducer
) -> None:
    req = request("[[stub:slow=800]] Everyone wants this.")
    ids = [producer.submit(req, queue=("w1", "w2")[n % 2]) for n in range(50)]
    outputs = [producer.app.AsyncResult(task_id).get(timeout=120) for task_id in ids]
    assert calls_for(fleet, req) == 1
    assert {o["worker"] for o in outputs} == {"w1@llmix", "w2@llmix"}
    own_calls = [o for o in outputs if o["cacheHit"] is None and not o["coalesced"]]
    assert len(own_calls) == 1
    assert all(o["coalesced"] or o["cacheHit"] in ("l1", "l2")
               for o in outputs if o is not own_calls[0])  # fmt: skip
    # another process waited on the fleet lock and read the holder's entry from L2
    assert any(o["coalesced"] and o["cacheHit"] == "l2" for o in outputs)


def test_the_control_command_clears_once_and_each_node_answers(
    fleet: LocalFleet, producer: CompletionProducer
) -> None:
    req = request("Cleared by a broadcast.")
    warm_every_process(producer, req)
    replies = producer.app.control.broadcast(CONTROL_CACHE_CLEAR, reply=True, timeout=20, limit=2)
    by_node = {node: body for reply in replies for node, body in reply.items()}
    assert {node: body["processes"] for node, body in by_node.items()} == {
        "w1@llmix": 1, "w2@llmix": 2,
    }  # fmt: skip
    assert sum(body["ranTheClear"] for body in by_node.values()) == 1
    assert producer.complete(req, queue="w1")["cacheHit"] is None
    assert calls_for(fleet, req) == 2


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


def test_cache_clear_is_complete_and_acknowledged(
    fleet: LocalFleet, producer: CompletionProducer
) -> None:
    req = request("Something to clear.")
    warm_every_process(producer, req)
    report = cli_json(fleet, "cache", "clear")
    assert report["complete"] is True and report["l2Deleted"] >= 1
    processes = {row["node"]: row["processes"] for row in report["nodes"]}
    assert processes == {"w1@llmix": 1, "w2@llmix": 2}  # every process holding an L1
    assert all(row["dropped"] >= 1 for row in report["nodes"])
    stats = cli_json(fleet, "cache", "stats")
    assert stats["l2Keys"] == 0 and len(stats["processes"]) == 3 and stats["silent"] == []
    assert {p["generation"] for p in stats["processes"]} == {report["generation"]}
    assert all(p["l2Healthy"] and not p["l2Blocked"] for p in stats["processes"])
    kinds = [producer.complete(req, queue=queue)["cacheHit"] for queue in ("w1", "w2")]
    assert kinds == [None, "l2"] and calls_for(fleet, req) == 2
    table = cli(fleet, "cache", "clear")
    assert table.returncode == 0 and "clear complete" in table.stdout


def producer_hits(nodes: list[LocalWorker]) -> float:
    return sum(scrape(n).value("llmix_cache_lookups_total", outcome="producer_hit") for n in nodes)


def test_producer_hits_are_counted_once_by_the_fleet(
    fleet: LocalFleet, nodes: list[LocalWorker], llmix_topology: Topology
) -> None:
    """Jobs a cache-first producer answers are counted where Prometheus scrapes, once in the
    fleet (defect 3): as ``producer_hit`` lookups and completions on one worker process."""
    producer = CompletionProducer(fleet.settings())  # cache-first
    jobs = [request(f"Answered by the producer on {llmix_topology.name}, {n}") for n in range(6)]
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
