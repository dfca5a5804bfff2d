"""Provider faults played by the stub: rate-limit storms, 5xx bursts, timeouts, broken bodies,
resets, and a provider that is down. Attempts stay within the policy's bound, the breaker opens
and recovers, and every job ends with a result or a one-line error."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from docgen.reliability import ScenarioRecord
from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from llmix_workers.testing.redis_server import free_port
from tests.celery.jobs import calls_for, request
from tests.faults.conftest import Record
from tests.faults.support import FAST_ENV, figures, scrape, stub_total

pytestmark = [pytest.mark.faults, pytest.mark.timeout(150)]

MAX_ATTEMPTS, MAX_REQUEUES, COOLDOWN_S, TIMEOUT_S = 3, 3, 2.0, 1.5
#: Countdowns a job may spend re-queued by an open breaker: above the worst storm below (12
#: 429s drained one probe per cool-down: 24 s), and what a dead provider costs each job.
CIRCUIT_WAIT_S = 30.0
#: Calls one job may cost at most: every attempt of the first run and of each re-queue.
CALLS_BOUND = MAX_ATTEMPTS * (MAX_REQUEUES + 1)
JOBS = 8
BURST = JOBS + 2
OPEN = 2.0


@pytest.fixture(scope="module")
def fleet() -> Iterator[LocalFleet]:
    env = {
        **FAST_ENV,
        "LLMIX_LLM__MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "LLMIX_WORKER__MAX_REQUEUES": str(MAX_REQUEUES),
        "LLMIX_LLM__BREAKER_COOLDOWN_S": str(COOLDOWN_S),
        "LLMIX_LLM__TIMEOUT_S": str(TIMEOUT_S),
        "LLMIX_LLM__CONNECT_TIMEOUT_S": "1",
        "LLMIX_WORKER__MAX_CIRCUIT_WAIT_S": str(CIRCUIT_WAIT_S),
    }
    with LocalFleet(worker_env=env) as local:
        yield local


@pytest.fixture(scope="module")
def node(fleet: LocalFleet) -> LocalWorker:
    return fleet.add_worker("prov", concurrency=8, metrics_port=free_port())


@pytest.fixture(scope="module")
def producer(fleet: LocalFleet) -> CompletionProducer:
    return CompletionProducer(fleet.settings())


def breaker_states(port: int, stop: threading.Event, seen: set[float]) -> None:
    while not stop.is_set():
        samples = scrape(port)
        seen.update(v for k, v in samples.items() if k.startswith("llmix_circuit_breaker_state"))
        time.sleep(0.1)


def run_with_breaker_watch(
    producer: CompletionProducer, node: LocalWorker, jobs: list[dict[str, Any]]
) -> tuple[list[Any], set[float]]:
    seen: set[float] = set()
    stop = threading.Event()
    watcher = threading.Thread(target=breaker_states, args=(node.metrics_port, stop, seen))
    watcher.start()
    try:
        outcomes = producer.run_batch(jobs, timeout_s=100)
    finally:
        stop.set()
        watcher.join(5)
    return outcomes, seen


FAULTS: dict[str, tuple[list[Any], str]] = {
    "429 storm with Retry-After": ([{"status": 429, "retry_after": "1"}] * 12, "12 x 429"),
    # instant faults: at least one per job, so every first attempt fails and three failures in
    # a row reach the breaker whatever order the concurrent answers come back in
    "503 burst": ([503] * BURST, f"{BURST} x 503"),
    "provider timeouts": ([f"slow={int(TIMEOUT_S * 2000)}"] * 5, "5 answers past the timeout"),
    "malformed bodies": (["malformed"] * BURST, f"{BURST} x 200 with a body that is not JSON"),
    "truncated bodies": (["truncated"] * BURST, f"{BURST} x half a body, then close"),
    "connection resets": (["reset"] * BURST, f"{BURST} x TCP reset"),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_provider_fault_burst(
    name: str, fleet: LocalFleet, node: LocalWorker, producer: CompletionProducer, record: Record
) -> None:
    assert fleet.stub is not None
    time.sleep(COOLDOWN_S)  # the previous case's breaker has cooled down
    fleet.stub.reset()
    faults, what = FAULTS[name]
    fleet.stub.script(*faults)
    jobs = [request(f"{name} {n}.") for n in range(JOBS)]
    outcomes, states = run_with_breaker_watch(producer, node, jobs)
    per_job = [calls_for(fleet, job) for job in jobs]
    errors = [o.error for o in outcomes if o.error is not None]
    found = figures(outcomes, provider_calls=stub_total(fleet), distinct=JOBS)
    unplayed = len(faults) - min(len(faults), found["provider_calls"])
    fleet.stub.reset()  # the faults stop: what is left of the script is dropped
    after = producer.complete(request(f"after {name}."), timeout_s=30)

    assert max(per_job) <= CALLS_BOUND, per_job
    assert OPEN in states, states  # three failures in a row open it
    if name.startswith("429"):
        # Only runs that met a 429 spend a re-queue (the breaker's refusals spend time, up to
        # CIRCUIT_WAIT_S), so a job fails only after MAX_REQUEUES + 1 of its runs met one:
        # 12 scripted 429s can end at most 3 of the 8 jobs. (Before: all 8 failed, their
        # re-queues used up by refusals while the breaker was open.)
        assert found["completed"] >= JOBS - len(faults) // (MAX_REQUEUES + 1), (found, errors)
    assert all("\n" not in error and len(error) < 400 for error in errors), errors
    assert after["content"].startswith("Stub answer")  # recovered: closed again, answers flow
    record(
        ScenarioRecord(
            name=f"provider: {name}",
            family="Provider faults",
            injected=f"{what} scripted for the next requests, {JOBS} jobs on 8 threads "
            f"(max_attempts {MAX_ATTEMPTS}, max_requeues {MAX_REQUEUES}, breaker cool-down "
            f"{COOLDOWN_S:g} s, max_circuit_wait_s {CIRCUIT_WAIT_S:g}, timeout {TIMEOUT_S:g} s)",
            promise=f"at most {CALLS_BOUND} calls per job; every job ends with a result or a "
            "one-line error; the provider is used again once the faults stop",
            figures=found,
            notes={
                "scripted faults never played (jobs had ended)": unplayed,
                "most calls for one job": max(per_job),
                "breaker opened": OPEN in states,
                "errors": sorted({e.split(":")[0] for e in errors}) or "none",
            },
        )
    )


def test_provider_down(
    fleet: LocalFleet, node: LocalWorker, producer: CompletionProducer, record: Record
) -> None:
    assert fleet.stub is not None
    fleet.stub.reset()
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    jobs = [request(f"Nobody home {n}.", baseUrl=dead) for n in range(JOBS)]
    started = time.monotonic()
    outcomes, states = run_with_breaker_watch(producer, node, jobs)
    took_s = time.monotonic() - started
    errors = [o.error for o in outcomes if o.error is not None]
    healthy = producer.complete(request("The stub is still up."), timeout_s=30)

    assert len(errors) == JOBS
    assert all("\n" not in e and len(e) < 400 for e in errors), errors
    assert OPEN in states, states
    # The breaker is per (provider, base URL): the stub's own breaker never opened.
    assert healthy["content"].startswith("Stub answer")
    record(
        ScenarioRecord(
            name="provider: down (connection refused)",
            family="Provider faults",
            injected=f"{JOBS} jobs whose baseUrl is a closed loopback port",
            promise="every job fails with a one-line error after the bounded retries and "
            f"re-queues (at most {CIRCUIT_WAIT_S:g} s of them refused by the open breaker); the "
            "breaker opens for that base URL only; other jobs are unaffected",
            figures={"submitted": JOBS, "completed": 0, "failed": len(errors), "lost": 0},
            notes={
                "breaker opened": True,
                "seconds until every job had failed": round(took_s, 1),
                "error": errors[0][:200],
            },  # fmt: skip
        )
    )
