"""llmix.complete end to end: real worker processes, real Redis broker, the stub over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llmix_workers.producer import CompletionProducer, JobFailed
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from llmix_workers.testing.waiting import eventually
from tests.celery.jobs import calls_for, request
from tests.sockets import connections_to

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


@pytest.fixture(scope="module")
def pair(fleet: LocalFleet) -> Iterator[tuple[LocalWorker, LocalWorker]]:
    """Two threads workers; each also listens on a queue of its own name."""
    first = fleet.add_worker("w1", queues="llmix,w1", concurrency=8)
    second = fleet.add_worker("w2", queues="llmix,w2", concurrency=8)
    yield first, second


def test_first_run_calls_once_then_l1_on_the_same_worker_and_l2_on_another(
    clean_fleet: LocalFleet, pair: tuple[LocalWorker, LocalWorker], producer: CompletionProducer
) -> None:
    req = request("Name three rivers.")
    first = producer.complete(req, queue="w1")
    assert first["cacheHit"] is None and first["worker"] == "w1@llmix"
    assert first["content"].startswith("Stub answer")
    assert first["usage"]["totalTokens"] > 0
    assert calls_for(clean_fleet, req) == 1
    again = producer.complete(req, queue="w1")
    assert (again["cacheHit"], again["worker"]) == ("l1", "w1@llmix")
    elsewhere = producer.complete(req, queue="w2")
    assert (elsewhere["cacheHit"], elsewhere["worker"]) == ("l2", "w2@llmix")
    assert elsewhere["usage"] == first["usage"]  # the tokens this hit saved
    assert elsewhere["content"] == first["content"] and elsewhere["cacheKey"] == first["cacheKey"]
    assert calls_for(clean_fleet, req) == 1


def test_twenty_identical_jobs_at_once_on_one_worker_make_one_call(
    clean_fleet: LocalFleet, pair: tuple[LocalWorker, LocalWorker], producer: CompletionProducer
) -> None:
    req = request("[[stub:slow=400]] Slow and popular.")
    outcomes = producer.run_batch([req] * 20, queue="w1", timeout_s=60)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert calls_for(clean_fleet, req) == 1
    outputs = [o.output or {} for o in outcomes]
    own_calls = [o for o in outputs if o["cacheHit"] is None and not o["coalesced"]]
    shared = [o for o in outputs if o["coalesced"]]
    assert len(own_calls) == 1
    # the 7 other threads waited on the call in flight, and say so; later ones hit L1
    assert len(shared) >= 7 and all(o["cacheHit"] is None for o in shared)
    assert all(o["cacheHit"] == "l1" for o in outputs if o not in own_calls + shared)


def test_429_then_success_honours_retry_after(
    clean_fleet: LocalFleet, pair: tuple[LocalWorker, LocalWorker], producer: CompletionProducer
) -> None:
    assert clean_fleet.stub is not None
    clean_fleet.stub.script({"status": 429, "retry_after": "1"})
    req = request("Rate limited once.")
    output = producer.complete(req, queue="w1")
    assert output["cacheHit"] is None
    assert calls_for(clean_fleet, req) == 2
    first, second = (r["at"] for r in clean_fleet.stub.requests()[-2:])
    assert second - first >= 1.0  # the worker waited as told


def test_a_long_retry_after_requeues_the_job_instead_of_holding_a_thread(
    clean_fleet: LocalFleet, pair: tuple[LocalWorker, LocalWorker], producer: CompletionProducer
) -> None:
    assert clean_fleet.stub is not None
    clean_fleet.stub.script({"status": 429, "retry_after": "3"})  # > max_inline_wait_s (1.5)
    req = request("Rate limited for longer.")
    output = producer.complete(req, queue="w2")
    assert output["cacheHit"] is None and output["content"].startswith("Stub answer")
    assert calls_for(clean_fleet, req) == 2
    first, second = (r["at"] for r in clean_fleet.stub.requests()[-2:])
    assert second - first >= 3.0
    assert "Retry in 3" in pair[1].log()


def test_400_fails_at_once_without_retry(
    clean_fleet: LocalFleet, pair: tuple[LocalWorker, LocalWorker], producer: CompletionProducer
) -> None:
    req = request("[[stub:400]] Bad for the provider.")
    with pytest.raises(JobFailed, match="BadRequest") as info:
        producer.complete(req, queue="w1")
    assert "400" in str(info.value) or "invalid" in str(info.value).lower()
    assert calls_for(clean_fleet, req) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"provider": "openai", "model": "m", "messages": [{"content": "no role"}]}, "role"),
        ({"provider": "openai", "model": "m", "messages": []}, "messages"),
        ({"provider": "openai", "messages": [{"role": "user", "content": "x"}]}, "model"),
        (
            {
                "provider": "openai",
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "temperature": "hot",
            },
            "temperature",
        ),  # fmt: skip
        (
            {
                "provider": "openai",
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "cache": "sometimes",
            },
            "cache",
        ),  # fmt: skip
        (["not", "an", "object"], "request"),
    ],
)
def test_bad_requests_fail_on_the_worker_with_the_field_named(
    clean_fleet: LocalFleet,
    pair: tuple[LocalWorker, LocalWorker],
    producer: CompletionProducer,
    payload: Any,
    field: str,
) -> None:
    outcome = producer.run_batch([payload], validate=False, queue="w1", timeout_s=30)[0]
    assert outcome.error is not None and "InvalidRequest" in outcome.error
    assert field in outcome.error
    assert clean_fleet.stub is not None and clean_fleet.stub.calls()["total"] == 0


def test_a_bad_job_fails_alone_in_a_batch(
    clean_fleet: LocalFleet, pair: tuple[LocalWorker, LocalWorker], producer: CompletionProducer
) -> None:
    good = [request(f"Good {n}.") for n in range(3)]
    bad = {"provider": "openai", "model": "m", "messages": [{"role": "robot", "content": "x"}]}
    outcomes = producer.run_batch([good[0], bad, good[1], good[2]], validate=False, timeout_s=60)
    assert [o.ok for o in outcomes] == [True, False, True, True]
    assert outcomes[1].error is not None and "messages" in outcomes[1].error


def test_a_tool_call_response_is_not_cached(
    clean_fleet: LocalFleet, pair: tuple[LocalWorker, LocalWorker], producer: CompletionProducer
) -> None:
    req = request("[[stub:tool]] Look it up.")
    first = producer.complete(req, queue="w1")
    second = producer.complete(req, queue="w1")
    assert first["toolCalls"] and second["toolCalls"]
    assert first["cacheHit"] is None and second["cacheHit"] is None
    assert calls_for(clean_fleet, req) == 2


def test_thinking_is_stripped_for_the_caller_and_kept_in_the_cache(
    clean_fleet: LocalFleet, pair: tuple[LocalWorker, LocalWorker], producer: CompletionProducer
) -> None:
    req = request("[[stub:think]] Reason first.")
    first = producer.complete(req, queue="w1")
    assert first["thinking"] and "<think>" not in first["content"]
    hit = producer.complete(req, queue="w2")
    assert hit["cacheHit"] == "l2" and hit["thinking"] == first["thinking"]


def test_cache_modes(
    clean_fleet: LocalFleet, pair: tuple[LocalWorker, LocalWorker], producer: CompletionProducer
) -> None:
    req = request("Cache modes.")
    assert producer.complete({**req, "cache": "no-store"}, queue="w1")["cacheHit"] is None
    assert producer.complete({**req, "cache": "bypass"}, queue="w1")["cacheHit"] is None
    assert producer.complete(req, queue="w1")["cacheHit"] is None  # nothing was stored yet
    assert producer.complete({**req, "cache": "refresh"}, queue="w1")["cacheHit"] is None
    assert producer.complete({**req, "cache": "no-store"}, queue="w1")["cacheHit"] == "l1"
    assert calls_for(clean_fleet, req) == 4


def test_worker_killed_mid_job_loses_nothing(
    clean_fleet: LocalFleet, producer: CompletionProducer
) -> None:
    victim = clean_fleet.add_worker("victim", queues="victims", concurrency=2)
    req = request("[[stub:slow=1500]] Survive a crash.")
    task_id = producer.submit(req, queue="victims")
    eventually(lambda: calls_for(clean_fleet, req) == 1, "the victim's provider call")
    victim.kill()
    rescuer = clean_fleet.add_worker("rescuer", queues="victims", concurrency=2)
    result = producer.app.AsyncResult(task_id).get(timeout=60)
    assert result["worker"] == rescuer.hostname
    assert result["content"].startswith("Stub answer")
    assert calls_for(clean_fleet, req) == 2


def test_prefork_children_each_have_an_l1_over_the_shared_l2(
    clean_fleet: LocalFleet, producer: CompletionProducer
) -> None:
    clean_fleet.add_worker("pf", pool="prefork", queues="pf", concurrency=2)
    req = request("Prefork.")
    outputs = [producer.complete(req, queue="pf") for _ in range(6)]
    kinds = [o["cacheHit"] for o in outputs]
    assert kinds[0] is None and all(kind in ("l1", "l2") for kind in kinds[1:])
    assert calls_for(clean_fleet, req) == 1
    assert {o["worker"] for o in outputs} == {"pf@llmix"}


def test_a_rerun_batch_is_answered_by_the_producer_without_a_task(
    clean_fleet: LocalFleet, pair: tuple[LocalWorker, LocalWorker], producer: CompletionProducer
) -> None:
    from llmix_workers.wiring.fleet import build_fleet_control

    assert clean_fleet.stub is not None
    reqs = [request(f"Batch item {n}.") for n in range(30)]
    first = producer.run_batch(reqs + reqs[:5], timeout_s=60)
    assert all(o.ok for o in first)
    assert not any((o.output or {}).get("answeredBy") for o in first[:30])
    sent_before = clean_fleet.stub.calls()["total"]
    mixed = reqs[:20] + [request("New one.")] + [dict(reqs[0], cache="bypass")]
    again = producer.run_batch(mixed, timeout_s=60)
    outputs = [o.output or {} for o in again]
    assert [o.get("answeredBy") for o in outputs] == ["producer"] * 20 + [None, None]
    assert all(o["cacheHit"] == "l2" and o["worker"] == "producer" for o in outputs[:20])
    assert [o["content"] for o in outputs[:20]] == [(o.output or {})["content"] for o in first[:20]]
    assert outputs[20]["worker"] in {"w1@llmix", "w2@llmix"} and outputs[21]["cacheHit"] is None
    assert clean_fleet.stub.calls()["total"] == sent_before + 2  # the new one and the bypass
    off = producer.run_batch(reqs[:3], timeout_s=60, cache_first=False)
    assert all((o.output or {})["worker"] in {"w1@llmix", "w2@llmix"} for o in off)
    control = build_fleet_control(producer.settings)
    try:
        assert control.clear().complete
    finally:
        control.close()
    after = producer.run_batch(reqs[:3], timeout_s=60)
    assert not any((o.output or {}).get("answeredBy") for o in after)  # nothing from before


def test_a_closed_producer_leaves_no_redis_connection_open(
    clean_fleet: LocalFleet, pair: tuple[LocalWorker, LocalWorker]
) -> None:
    """Broker, result backend (client and subscription) and batch lookup are all closed by
    ``close()``, not left for the garbage collector: a long-lived process that builds
    producers one after another would otherwise pile connections up."""
    url = clean_fleet.redis_url
    before = connections_to(url)
    producer = CompletionProducer(clean_fleet.settings())
    outcomes = producer.run_batch([request("Close me."), request("Close me too.")], timeout_s=60)
    assert all(o.ok for o in outcomes)
    assert len(connections_to(url) - before) >= 3  # broker, results and their subscription
    producer.close()
    left = connections_to(url) - before
    assert left == set(), f"{len(left)} connection(s) to Redis still open after close()"
