"""One budget shared by real worker processes against the stub provider's own limit.

The stub allows 600 requests a minute (10 a second, in bursts of up to 10); each worker process
would send far more on its own (4 threads, a stub answering at once). With a fleet-wide budget
at or just under the stub's limit, the processes together stay inside it: the stub answers
(next to) no 429 although no process is told what the others do except through Redis; and when
that Redis goes away, each keeps to its share (the budget over the live members it last saw).
"""

from __future__ import annotations

import pytest
import redis

from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.testing.redis_server import PrivateRedis
from tests.celery.jobs import request

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

JOBS = 80
SETTINGS_TOML = """\
[llm.budgets]
openai = { rpm = 540 }
"""


def test_three_processes_share_one_budget_and_stay_under_the_providers_limit() -> None:
    with LocalFleet() as fleet:
        assert fleet.stub is not None
        fleet.stub.script(limits=(600, None))
        (fleet.workdir / "settings.toml").write_text(SETTINGS_TOML)
        fleet.worker_env.update(LLMIX_WORKER__PREFETCH_MULTIPLIER="1")
        for name in ("b1", "b2", "b3"):
            fleet.add_worker(name, concurrency=4)
        with CompletionProducer(fleet.settings()) as producer:
            outcomes = producer.run_batch(
                [request(f"Budget job {n}.") for n in range(JOBS)], timeout_s=180
            )
        assert [o.error for o in outcomes if o.error] == []
        served = {o.worker for o in outcomes}
        assert len(served) == 3, served  # every process drew from the budget
        calls = fleet.stub.calls()
        assert calls["by_outcome"].get("ok") == JOBS
        assert calls["by_outcome"].get("429", 0) <= 2, calls["by_outcome"]
        client = redis.Redis.from_url(fleet.redis_url)
        try:
            assert client.exists(FleetKeys.for_prefix("llmix:resp:v2:").budget("openai"))
        finally:
            client.close()


def test_with_the_fleets_redis_down_each_process_keeps_to_its_share() -> None:
    """Fleet state (and the budget) on a Redis of its own, stopped halfway: the two processes
    fall back to half the budget each, so together they still keep to the stub's limit."""
    with LocalFleet() as fleet, PrivateRedis() as fleet_redis:
        assert fleet.stub is not None
        fleet.stub.script(limits=(600, None))
        (fleet.workdir / "settings.toml").write_text("[llm.budgets]\nopenai = { rpm = 600 }\n")
        fleet.worker_env.update(
            LLMIX_WORKER__PREFETCH_MULTIPLIER="1", LLMIX_FLEET__REDIS_URL=fleet_redis.url
        )
        workers = [fleet.add_worker(name, concurrency=4) for name in ("d1", "d2")]
        with CompletionProducer(fleet.settings()) as producer:
            before = producer.run_batch([request(f"Up {n}.") for n in range(20)], timeout_s=120)
            fleet_redis.stop()
            fleet.stub.reset()
            fleet.stub.script(limits=(600, None))  # full buckets: as many 429s as at the start
            after = producer.run_batch([request(f"Down {n}.") for n in range(JOBS)],
                                       timeout_s=180)  # fmt: skip
        assert [o.error for o in before + after if o.error] == []
        calls = fleet.stub.calls()
        assert calls["by_outcome"].get("ok") == JOBS
        assert calls["by_outcome"].get("429", 0) <= 2, calls["by_outcome"]
        fell_back = [w.name for w in workers if "drawing from this process's share" in w.log()]
        assert fell_back == ["d1", "d2"]
