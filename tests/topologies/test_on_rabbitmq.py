"""The fleet suite (:mod:`tests.topologies.fleet_suite`) on the rabbitmq topology: RabbitMQ (a
private virtual host) as the broker, L2, fleet state and results on a standalone Redis. Beyond
the suite, what RabbitMQ does its own way: a job whose worker dies is redelivered at once (the
connection drops), and a long ``Retry-After`` re-queues the job through the broker."""

from __future__ import annotations

import pytest

from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from llmix_workers.testing.waiting import eventually
from tests.celery.jobs import calls_for, request
from tests.topologies.fleet_suite import *  # noqa: F403

TOPOLOGY = "rabbitmq"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), pytest.mark.rabbitmq]


def test_a_long_retry_after_requeues_the_job_through_rabbitmq(
    fleet: LocalFleet, producer: CompletionProducer
) -> None:
    assert fleet.stub is not None
    fleet.stub.script({"status": 429, "retry_after": "3"})  # > max_inline_wait_s
    req = request("Rate limited over RabbitMQ.")
    output = producer.complete(req, queue="w1")
    assert output["cacheHit"] is None and output["content"].startswith("Stub answer")
    assert calls_for(fleet, req) == 2
    first, second = (r["at"] for r in fleet.stub.requests()[-2:])
    assert second - first >= 3.0
    assert "Retry in 3" in fleet.workers[0].log()


def test_a_worker_killed_mid_job_gets_its_job_redelivered(
    fleet: LocalFleet, producer: CompletionProducer
) -> None:
    victim = fleet.add_worker("victim", queues="victims", concurrency=2)
    req = request("[[stub:slow=1500]] Survive a crash over RabbitMQ.")
    task_id = producer.submit(req, queue="victims")
    eventually(lambda: calls_for(fleet, req) == 1, "the victim's provider call")
    victim.kill()  # the connection drops: RabbitMQ requeues the unacknowledged message at once
    rescuer: LocalWorker = fleet.add_worker("rescuer", queues="victims", concurrency=2)
    try:
        result = producer.app.AsyncResult(task_id).get(timeout=60)
    finally:
        rescuer.stop()
        fleet.workers.remove(victim)
        fleet.workers.remove(rescuer)
    assert result["worker"] == "rescuer@llmix" and result["content"].startswith("Stub answer")
    assert calls_for(fleet, req) == 2
