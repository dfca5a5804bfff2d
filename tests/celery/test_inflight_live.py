"""Issue 19: a node of 256 threads against a provider that answers after 1 s.

With the default settings every pool follows the concurrency, so L2 stays healthy while 256
calls are in flight, and every job runs once: one provider call per distinct request and one
"succeeded" line per task in the worker's log (no job re-run after a failed acknowledgement).
No timing is asserted here: bench/inflight_bench.py measures the rate.

The one setting changed is the Redis socket timeout (0.25 s by default, 5 s here): what this
test checks is that no pool is starved, and on a machine running three test suites at once a
healthy but CPU-starved Redis once took longer than 0.25 s to answer an L2 SET (CI ci27).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet
from tests.celery.scrape import eventually

pytestmark = [pytest.mark.timeout(420), pytest.mark.slow]

THREADS = 256
JOBS = 3 * THREADS
PATIENT_REDIS = {"LLMIX_REDIS__SOCKET_TIMEOUT_S": "5"}
SUCCEEDED = re.compile(r"Task llmix\.complete\[([0-9a-f-]+)\] succeeded")


def test_a_256_thread_node_keeps_l2_healthy_and_runs_every_job_once() -> None:
    with LocalFleet(stub_latency_ms=1000, worker_env=PATIENT_REDIS) as fleet:
        assert fleet.stub is not None
        worker = fleet.add_worker("wide", concurrency=THREADS, loglevel="INFO")
        producer = CompletionProducer(fleet.settings())
        requests = [
            {"provider": "openai", "model": "m", "messages": [
                {"role": "user", "content": f"question {n} of the wide node"}]}
            for n in range(JOBS)
        ]  # fmt: skip
        outcomes = producer.run_batch(requests, timeout_s=360)
        failed = [o.error for o in outcomes if not o.ok]
        assert failed == []
        assert {o.requeues for o in outcomes} == {0}
        assert all(o.output is not None and not o.output["cacheHit"] for o in outcomes)

        calls = fleet.stub.calls()
        assert calls["total"] == JOBS
        assert set(calls["by_digest"].values()) == {1}

        ids = {o.task_id for o in outcomes}
        # Celery stores a result before it logs the line that says so.
        eventually(lambda: ids <= set(SUCCEEDED.findall(worker.log())), "every success logged")
        log = worker.log()
        for trouble in ("L2 read failed", "L2 write failed", "L2 unhealthy", "Too many connections",
                        "fleet lock unavailable"):  # fmt: skip
            assert trouble not in log
        runs = Counter(SUCCEEDED.findall(log))
        assert set(runs) == ids
        assert set(runs.values()) == {1}
