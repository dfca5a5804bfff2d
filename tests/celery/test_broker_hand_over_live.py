"""A real worker whose broker dies as it takes a job still runs the job and stores its answer.

The worker's broker is a relay in front of the fleet's Redis that dies right after a ``BRPOP``
hands out a message (the instant a Sentinel primary can die: CI ci37 lost a job this way);
the producer, results, L2 and fleet state reach the same Redis directly. kombu's own Redis transport raised
while recording the message as unacknowledged, and the job was lost with no trace in Redis.
"""

from __future__ import annotations

import pytest

from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.testing.relay import TcpRelay
from tests.celery.conftest import FAST_DELIVERY
from tests.celery.jobs import calls_for, request

pytestmark = pytest.mark.timeout(180)


def test_a_job_taken_as_the_broker_dies_runs_and_answers() -> None:
    with PrivateRedis() as server, TcpRelay("127.0.0.1", server.port) as relay:
        broker = f"redis://127.0.0.1:{relay.port}/0"
        with LocalFleet(redis_url=server.url, broker_url=broker, worker_env=FAST_DELIVERY) as fleet:
            # Armed before the worker starts, so its BRPOPs are already waiting when the job
            # comes; only a BRPOP on the job queue (first key "llmix") counts, not the control
            # client's on its reply queue while it waits for the worker's ping (CI ci49).
            relay.die_after_reply_to(b"BRPOP\r\n$5\r\nllmix\r\n", reply_starts=b"*2")
            worker = fleet.add_worker("w1", concurrency=2)
            job = request("Taken as the broker dies.")
            with CompletionProducer(
                # the producer reaches Redis directly: its publish is not cut off with the
                # worker's link (ci: the BRPOP reply could come before the LPUSH's)
                fleet.settings(worker={"broker_url": server.url, "result_backend": server.url})
            ) as producer:
                assert not relay.is_dead  # nothing but the job can have killed it
                task_id = producer.submit(job)
                answer = producer.app.AsyncResult(task_id).get(timeout=60)
            assert relay.is_dead
            relay.heal()  # the worker reconnects and can stop cleanly
            log = worker.log()
    assert answer["content"].startswith("Stub answer")
    assert f"recording message {task_id} as unacknowledged" in log, log[-3000:]
    assert "running it anyway" in log
    assert calls_for(fleet, job) == 1
