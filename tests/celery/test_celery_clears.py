"""Clears the Celery way: the ``llmix.cache_clear`` task, the ``llmix_cache_clear`` control
command, and Celery's own CLI (``celery -A llmix_workers.celery_app``) against real workers.

Three nodes: ``t1`` (threads, started by ``llmix-workers worker``), ``p2`` (prefork, two
children) and ``c3`` (threads, started by ``celery -A llmix_workers.celery_app worker``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery.app.control import Control

from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.worker.control import CONTROL_CACHE_CLEAR
from llmix_workers.worker.tasks import TASK_CACHE_CLEAR
from tests.celery.jobs import calls_for, request

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

FLEET_ENV = {
    "LLMIX_FLEET__SYNC_INTERVAL_S": "0.5",
    "LLMIX_FLEET__LEASE_S": "1.5",
    "LLMIX_FLEET__MEMBER_TTL_S": "3",
    "LLMIX_FLEET__CLEAR_TIMEOUT_S": "8",
    "LLMIX_WORKER__PREFETCH_MULTIPLIER": "1",
}
NODES = {"t1@llmix", "p2@llmix", "c3@llmix"}


@pytest.fixture(scope="module")
def fleet() -> Iterator[LocalFleet]:
    with LocalFleet(worker_env=FLEET_ENV) as local:
        local.add_worker("t1", queues="llmix,t1", concurrency=4)
        local.add_worker("p2", queues="llmix,p2", pool="prefork", concurrency=2)
        local.add_worker("c3", queues="llmix,c3", concurrency=4, celery_cli=True)
        yield local


@pytest.fixture(scope="module")
def producer(fleet: LocalFleet) -> CompletionProducer:
    return CompletionProducer(fleet.settings(fleet={"lease_s": 1.5, "member_ttl_s": 3}))


def warm(producer: CompletionProducer, req: dict[str, Any]) -> None:
    """``req`` in the L1 of t1, c3 and both prefork children of p2."""
    for queue in ("t1", "c3", "p2", "p2", "p2", "p2", "p2", "p2"):
        producer.complete(req, queue=queue)


def l2_keys(fleet: LocalFleet) -> int:
    client = redis.Redis.from_url(fleet.redis_url)
    try:
        return len(list(client.scan_iter("llmix:resp:*")))
    finally:
        client.close()


def test_the_task_clears_the_fleet_and_returns_the_cli_report(
    fleet: LocalFleet, producer: CompletionProducer
) -> None:
    req = request("Cleared by a task.")
    warm(producer, req)
    assert l2_keys(fleet) >= 1
    report = producer.app.send_task(TASK_CACHE_CLEAR, queue="t1").get(timeout=60)
    assert set(report) == {"complete", "generation", "l2Deleted", "l2Error", "nodes", "acks",
                           "silent", "expired", "unproven", "l2Seconds", "ackSeconds"}  # fmt: skip
    assert report["complete"] is True and report["l2Deleted"] >= 1
    processes = {row["node"]: row["processes"] for row in report["nodes"]}
    assert processes == {"t1@llmix": 1, "p2@llmix": 2, "c3@llmix": 1}
    assert all(row["dropped"] >= 1 for row in report["nodes"])
    assert l2_keys(fleet) == 0
    assert producer.complete(req, queue="c3")["cacheHit"] is None  # nothing stale survived
    assert calls_for(fleet, req) == 2


def test_a_broadcast_clears_once_and_each_node_answers_for_its_processes(
    fleet: LocalFleet, producer: CompletionProducer
) -> None:
    req = request("Cleared by a broadcast.")
    warm(producer, req)
    replies = producer.app.control.broadcast(CONTROL_CACHE_CLEAR, reply=True, timeout=20, limit=3)
    by_node = {node: body for reply in replies for node, body in reply.items()}
    assert set(by_node) == NODES, replies
    assert sum(body["ranTheClear"] for body in by_node.values()) == 1
    assert len({body["requestId"] for body in by_node.values()}) == 1
    assert len({body["generation"] for body in by_node.values()}) == 1
    assert {node: body["processes"] for node, body in by_node.items()} == {
        "t1@llmix": 1, "p2@llmix": 2, "c3@llmix": 1,
    }  # fmt: skip
    assert all(body["dropped"] >= 1 and body["complete"] for body in by_node.values())
    assert len(by_node["p2@llmix"]["pids"]) == 2
    assert [producer.complete(req, queue=q)["cacheHit"] for q in ("t1", "p2")] == [None, "l2"]
    assert calls_for(fleet, req) == 2
    again = producer.app.control.broadcast(CONTROL_CACHE_CLEAR, reply=True, timeout=20, limit=3)
    generations = {body["generation"] for reply in again for body in reply.values()}
    assert generations == {by_node["t1@llmix"]["generation"] + 1}  # a new broadcast, a new clear


def test_a_request_id_makes_the_broadcast_idempotent(
    fleet: LocalFleet, producer: CompletionProducer
) -> None:
    args = {"request_id": "nightly-2026-11-26"}
    first = producer.app.control.broadcast(CONTROL_CACHE_CLEAR, arguments=args, reply=True,
                                           timeout=20, limit=3)  # fmt: skip
    second = producer.app.control.broadcast(CONTROL_CACHE_CLEAR, arguments=args, reply=True,
                                            timeout=20, limit=3)  # fmt: skip
    generations = [
        {b["generation"] for r in replies for b in r.values()} for replies in (first, second)
    ]
    assert generations[0] == generations[1] and len(generations[0]) == 1
    assert not any(b["ranTheClear"] for r in second for b in r.values())


def celery_cli(fleet: LocalFleet, *args: str) -> Any:
    command = [sys.executable, "-m", "celery", "-A", "llmix_workers.celery_app", *args]
    done = subprocess.run(command, env=fleet.env(), capture_output=True, timeout=90)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return json.loads(done.stdout)


def test_celerys_own_cli_pings_and_clears(fleet: LocalFleet, producer: CompletionProducer) -> None:
    pongs = celery_cli(fleet, "inspect", "ping", "--json", "--timeout", "5")  # {node: reply}
    assert pongs == dict.fromkeys(NODES, {"ok": "pong"})
    req = request("Cleared from celery control.")
    warm(producer, req)
    replies = celery_cli(fleet, "control", "--json", "--timeout", "12", CONTROL_CACHE_CLEAR)
    assert isinstance(replies, list)  # [{node: reply}, ...]
    by_node = {node: body for reply in replies for node, body in reply.items()}
    assert set(by_node) == NODES
    assert {node: body["processes"] for node, body in by_node.items()} == {
        "t1@llmix": 1, "p2@llmix": 2, "c3@llmix": 1,
    }  # fmt: skip
    assert all(body["ok"] == "cleared" for body in by_node.values())
    assert producer.complete(req, queue="p2")["cacheHit"] is None
    registered = celery_cli(fleet, "inspect", "registered", "--json", "--timeout", "5")
    assert set(registered) == NODES
    assert all({TASK_CACHE_CLEAR, "llmix.complete"} <= set(t) for t in registered.values())


def test_a_broadcast_without_an_id_from_a_plain_celery_control_still_answers_per_node(
    fleet: LocalFleet, producer: CompletionProducer
) -> None:
    plain = Control(app=producer.app)  # another app's remote control: no request_id added
    replies = plain.broadcast(CONTROL_CACHE_CLEAR, reply=True, timeout=20, limit=3)
    by_node = {node: body for reply in replies for node, body in reply.items()}
    assert {node: body["processes"] for node, body in by_node.items()} == {
        "t1@llmix": 1, "p2@llmix": 2, "c3@llmix": 1,
    }  # fmt: skip
    assert all(body["complete"] for body in by_node.values())
    assert sum(body["ranTheClear"] for body in by_node.values()) >= 1
