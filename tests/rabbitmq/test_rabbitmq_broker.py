"""Completion jobs, re-queues, redelivery and clears with RabbitMQ as the broker.

``worker.broker_url=amqp://…`` on a virtual host of this module's own; L2, fleet state and
results stay on the fleet's private Redis.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from llmix_workers.testing.rabbitmq import PrivateVhost
from llmix_workers.testing.waiting import eventually
from llmix_workers.wiring.fleet import build_fleet_control
from llmix_workers.worker.control import CONTROL_CACHE_CLEAR
from tests.celery.jobs import calls_for, request

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow, pytest.mark.rabbitmq]


@pytest.fixture(scope="module")
def fleet(vhost: PrivateVhost) -> Iterator[LocalFleet]:
    with LocalFleet() as local:
        local.worker_env.update(
            LLMIX_WORKER__BROKER_URL=vhost.url,
            LLMIX_WORKER__RESULT_BACKEND=local.redis_url,
            LLMIX_WORKER__PREFETCH_MULTIPLIER="1",
            LLMIX_FLEET__SYNC_INTERVAL_S="0.5",
            LLMIX_FLEET__LEASE_S="1.5",
            LLMIX_FLEET__MEMBER_TTL_S="3",
            LLMIX_LLM__MAX_INLINE_WAIT_S="1.5",
            LLMIX_LLM__TIMEOUT_S="10",
        )
        local.add_worker("r1", queues="llmix,r1", concurrency=4)
        local.add_worker("r2", queues="llmix,r2", pool="prefork", concurrency=2)
        yield local


@pytest.fixture(scope="module")
def producer(fleet: LocalFleet, vhost: PrivateVhost) -> CompletionProducer:
    settings = fleet.settings(
        worker={"broker_url": vhost.url, "result_backend": fleet.redis_url},
        fleet={"lease_s": 1.5, "member_ttl_s": 3},
    )
    assert settings.broker_url.startswith("amqp://")
    return CompletionProducer(settings)


@pytest.fixture
def stub_reset(fleet: LocalFleet) -> LocalFleet:
    assert fleet.stub is not None
    fleet.stub.reset()
    return fleet


def test_complete_over_amqp_calls_once_then_hits_l1_and_l2(
    stub_reset: LocalFleet, producer: CompletionProducer
) -> None:
    req = request("Over RabbitMQ.")
    first = producer.complete(req, queue="r1")
    assert first["cacheHit"] is None and first["worker"] == "r1@llmix"
    assert producer.complete(req, queue="r1")["cacheHit"] == "l1"
    assert producer.complete(req, queue="r2")["cacheHit"] == "l2"
    assert calls_for(stub_reset, req) == 1


def test_a_long_retry_after_requeues_the_job_through_rabbitmq(
    stub_reset: LocalFleet, producer: CompletionProducer
) -> None:
    assert stub_reset.stub is not None
    stub_reset.stub.script({"status": 429, "retry_after": "3"})  # > max_inline_wait_s
    req = request("Rate limited over RabbitMQ.")
    output = producer.complete(req, queue="r1")
    assert output["cacheHit"] is None and output["content"].startswith("Stub answer")
    assert calls_for(stub_reset, req) == 2
    first, second = (r["at"] for r in stub_reset.stub.requests()[-2:])
    assert second - first >= 3.0
    assert "Retry in 3" in stub_reset.workers[0].log()


def test_a_worker_killed_mid_job_gets_its_job_redelivered(
    stub_reset: LocalFleet, producer: CompletionProducer
) -> None:
    victim = stub_reset.add_worker("victim", queues="victims", concurrency=2)
    req = request("[[stub:slow=1500]] Survive a crash over RabbitMQ.")
    task_id = producer.submit(req, queue="victims")
    eventually(lambda: calls_for(stub_reset, req) == 1, "the victim's provider call")
    victim.kill()  # the connection drops: RabbitMQ requeues the unacknowledged message at once
    rescuer: LocalWorker = stub_reset.add_worker("rescuer", queues="victims", concurrency=2)
    try:
        result = producer.app.AsyncResult(task_id).get(timeout=60)
    finally:
        rescuer.stop()
        stub_reset.workers.remove(victim)
        stub_reset.workers.remove(rescuer)
    assert result["worker"] == "rescuer@llmix" and result["content"].startswith("Stub answer")
    assert calls_for(stub_reset, req) == 2


def test_fleet_clear_and_the_control_command_over_amqp(
    stub_reset: LocalFleet, producer: CompletionProducer
) -> None:
    req = request("Cleared with RabbitMQ as broker.")
    for queue in ("r1", "r2", "r2", "r2", "r2", "r2", "r2"):
        producer.complete(req, queue=queue)
    control = build_fleet_control(producer.settings)
    try:
        report = control.clear(timeout_s=10)
    finally:
        control.close()
    assert report.complete, report
    assert {row["node"]: row["processes"] for row in report.nodes()} == {
        "r1@llmix": 1, "r2@llmix": 2,
    }  # fmt: skip
    replies = producer.app.control.broadcast(CONTROL_CACHE_CLEAR, reply=True, timeout=20, limit=2)
    by_node = {node: body for reply in replies for node, body in reply.items()}
    assert {node: body["processes"] for node, body in by_node.items()} == {
        "r1@llmix": 1, "r2@llmix": 2,
    }  # fmt: skip
    assert sum(body["ranTheClear"] for body in by_node.values()) == 1
    assert producer.complete(req, queue="r1")["cacheHit"] is None
    assert calls_for(stub_reset, req) == 2
