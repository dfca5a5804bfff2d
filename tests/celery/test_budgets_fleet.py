"""One budget shared by three real worker processes against the stub provider's own limit.

The stub allows 600 requests a minute (10 a second, in bursts of up to 10); each worker process
would send far more on its own (4 threads, a stub answering at once). With a fleet-wide budget
just under the stub's limit, the three processes together stay inside it: the stub answers
(next to) no 429 although no process is told what the others do except through Redis.
"""

from __future__ import annotations

import pytest
import redis

from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet
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
