"""A worker node SIGKILLed with 20 jobs in flight, and the visibility timeout's other side.

Redis broker; the victim listens on a queue of its own, and the rescuers are told to consume it
only once the victim holds every job, so each job is known to have started on the victim.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from docgen.reliability import ScenarioRecord
from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from tests.celery.jobs import calls_for, request
from tests.faults.conftest import Record
from tests.faults.support import FAST_ENV, stub_total, wait_for

# Both tests time things against each other (a bound from the kill to the last result; a job
# outlasting the visibility timeout while its lock holder keeps the lock), so they run in make
# test's serial pass, without other tests' workers competing for the CPU.
pytestmark = [pytest.mark.faults, pytest.mark.timeout(120), pytest.mark.serial]

VISIBILITY_S = float(FAST_ENV["LLMIX_WORKER__VISIBILITY_TIMEOUT_S"])
RESTORE_S = float(FAST_ENV["LLMIX_WORKER__RESTORE_INTERVAL_S"])
IN_FLIGHT = 20
VICTIM_CALL_S = 9.0


#: FAST_ENV with room for a loaded machine: calls of up to 9 s stay far from the LLM timeout, and
#: a lock holder's keeper thread may be held up 3 s without its lock expiring (5 s TTL), while a
#: killed holder's locks expire within 5 s, about when its jobs come back from the broker.
ENV = {**FAST_ENV, "LLMIX_LLM__TIMEOUT_S": "60", "LLMIX_FLEET__LOCK_TTL_S": "5"}


@pytest.fixture(scope="module")
def fleet() -> Iterator[LocalFleet]:
    with LocalFleet(worker_env=ENV) as local:
        yield local


@pytest.fixture(scope="module")
def rescuers(fleet: LocalFleet) -> list[LocalWorker]:
    return [fleet.add_worker(name, concurrency=10) for name in ("r1", "r2")]


@pytest.fixture(scope="module")
def producer(fleet: LocalFleet) -> CompletionProducer:
    return CompletionProducer(fleet.settings())


def test_worker_killed_with_twenty_jobs_in_flight(
    fleet: LocalFleet, rescuers: list[LocalWorker], producer: CompletionProducer, record: Record
) -> None:
    assert fleet.stub is not None
    fleet.stub.reset()
    victim = fleet.add_worker("victim", queues="victims", concurrency=IN_FLIGHT)
    job_s = 3.0
    jobs = [request(f"[[stub:slow={job_s * 1000:g}]] In flight {n}.") for n in range(IN_FLIGHT)]
    # The victim's calls (the stub's next 20) take longer (though less than the LLM timeout):
    # on a loaded machine its 20 threads may start them seconds apart, and none may finish
    # before the kill (a 3 s call did, and its job's result named the victim).
    fleet.stub.script(*[f"slow={VICTIM_CALL_S * 1000:g}"] * IN_FLIGHT)
    ids = [producer.submit(job, queue="victims") for job in jobs]
    wait_for(lambda: stub_total(fleet) == IN_FLIGHT, 30, "every job started on the victim")
    victim.kill()
    killed_at = time.monotonic()
    names = [worker.hostname for worker in rescuers]
    producer.app.control.add_consumer("victims", destination=names, reply=True, timeout=5)
    results = [producer.app.AsyncResult(task_id).get(timeout=60) for task_id in ids]
    recovered_s = time.monotonic() - killed_at
    per_job = [calls_for(fleet, job) for job in jobs]
    producer.app.control.cancel_consumer("victims", destination=names, reply=True, timeout=5)

    assert {result["worker"] for result in results} <= set(names)
    assert all(result["content"].startswith("Stub answer") for result in results)
    assert per_job == [2] * IN_FLIGHT  # once on the victim (lost), once on a rescuer
    bound_s = VISIBILITY_S + RESTORE_S + job_s + 5.0  # generous: a loaded 2-core machine
    assert recovered_s <= bound_s, recovered_s
    record(
        ScenarioRecord(
            name="worker killed mid-job",
            family="Workers",
            injected=f"SIGKILL of a threads node holding {IN_FLIGHT} started jobs ({job_s:g} s "
            f"provider calls); Redis broker, visibility timeout {VISIBILITY_S:g} s",
            promise="every job completes exactly once on the other nodes, within the "
            "visibility timeout (+ restore interval + the job itself)",
            figures={
                "submitted": IN_FLIGHT,
                "completed": len(results),
                "failed": 0,
                "lost": IN_FLIGHT - len(results),
                "provider_calls": sum(per_job),
                "duplicated_calls": sum(per_job) - IN_FLIGHT,
            },
            notes={
                "seconds from SIGKILL to the last result": round(recovered_s, 1),
                "bound checked (s)": bound_s,
                "duplicated calls are the victim's": "its calls were cut off; no job ran "
                "twice on a live node",
            },
        )
    )


def test_a_job_longer_than_the_visibility_timeout_is_delivered_twice(
    fleet: LocalFleet, rescuers: list[LocalWorker], producer: CompletionProducer, record: Record
) -> None:
    """The price of a short visibility timeout: the broker hands a slow job to a second node."""
    assert fleet.stub is not None
    fleet.stub.reset()
    job_s = VISIBILITY_S + 3.0
    job = request(f"[[stub:slow={job_s * 1000:g}]] Longer than the timeout.")
    task_id = producer.submit(job)
    result = producer.app.AsyncResult(task_id).get(timeout=60)
    wait_for(
        lambda: sum(w.log().count(f"[{task_id}] received") for w in rescuers) >= 2,
        VISIBILITY_S + RESTORE_S + 10,
        "the second delivery",
    )
    deliveries = sum(w.log().count(f"[{task_id}] received") for w in rescuers)
    calls = calls_for(fleet, job)

    assert deliveries == 2 and result["content"].startswith("Stub answer")
    # The second delivery waits on the fleet lock for the first one's answer: no second call.
    assert calls == 1
    record(
        ScenarioRecord(
            name="job longer than the visibility timeout",
            family="Workers",
            injected=f"one {job_s:g} s job with a {VISIBILITY_S:g} s visibility timeout "
            "(Redis broker), nothing killed",
            promise="documented hazard: the broker delivers it again to another node; the fleet "
            "lock keeps it to one provider call while both runs overlap",
            figures={
                "submitted": 1,
                "completed": 1,
                "failed": 0,
                "lost": 0,
                "provider_calls": calls,
                "duplicated_calls": calls - 1,
            },  # fmt: skip
            notes={"deliveries": deliveries},
        )
    )
