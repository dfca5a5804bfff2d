"""The ``/metrics`` pages of real worker nodes add up exactly to what their jobs did.

One fleet for the module (private Redis, the stub provider): a threads node, a prefork node of 3
children recycled every 2 tasks, and a one-thread node with short resilience settings for the
error cases. Each test reads counters before and after its own jobs and compares the difference
with the jobs' outputs, the stub's call counts or the clear report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llmix_workers.producer import CompletionProducer, JobOutcome
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from llmix_workers.testing.redis_server import free_port
from llmix_workers.wiring.fleet import build_fleet_control
from tests.celery.conftest import FAST_DELIVERY
from tests.celery.jobs import calls_for, request
from tests.celery.scrape import Page, eventually, probe, promtool_check, scrape

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PRICE = {"input_per_million": 0.15, "output_per_million": 0.6}
FLEET_ENV = {
    **FAST_DELIVERY,
    # counts must add up exactly: no job may come back from the broker because it sat reserved
    # past a short visibility timeout (4 s saw it happen on a loaded machine, while prefork
    # children were being recycled: 13 completions for 12 jobs); nothing here kills a worker
    "LLMIX_WORKER__VISIBILITY_TIMEOUT_S": "300",
    "LLMIX_TELEMETRY__PRICES": json.dumps({"gpt-4o-mini": PRICE}),
    "LLMIX_TELEMETRY__READINESS_TIMEOUT_S": "1",
    "LLMIX_FLEET__SYNC_INTERVAL_S": "0.5",
}
#: The error node: 2 attempts per try, a breaker that opens after 2 failures for 2 s, 1 re-queue.
ERROR_ENV = {
    "LLMIX_LLM__MAX_ATTEMPTS": "2",
    "LLMIX_LLM__BREAKER_FAILURE_THRESHOLD": "2",
    "LLMIX_LLM__BREAKER_COOLDOWN_S": "2",
    "LLMIX_WORKER__MAX_REQUEUES": "1",
}
PREFORK_CHILDREN = 3


@dataclass
class Nodes:
    fleet: LocalFleet
    producer: CompletionProducer
    threads: LocalWorker
    prefork: LocalWorker
    errors: LocalWorker

    def run(self, node: LocalWorker, requests: list[dict[str, Any]]) -> list[JobOutcome]:
        return self.producer.run_batch(requests, queue=node.name, timeout_s=90)

    def node_dir(self, node: LocalWorker) -> Path:
        return self.fleet.workdir / f"llmix-metrics-{node.name}_llmix"


@pytest.fixture(scope="module")
def nodes() -> Iterator[Nodes]:
    with LocalFleet(worker_env=FLEET_ENV) as fleet:
        threads = fleet.add_worker("mt", queues="mt", concurrency=4, metrics_port=free_port())
        prefork = fleet.add_worker(
            "mp", queues="mp", pool="prefork", concurrency=PREFORK_CHILDREN,
            max_tasks_per_child=2, metrics_port=free_port(),
        )  # fmt: skip
        fleet.worker_env.update(ERROR_ENV)
        errors = fleet.add_worker("me", queues="me", concurrency=1, metrics_port=free_port())
        yield Nodes(
            fleet,
            CompletionProducer(fleet.settings(producer={"cache_first": False})),
            threads,
            prefork,
            errors,
        )


def gauge_is(node: LocalWorker, name: str, value: float) -> Callable[[], bool]:
    return lambda: scrape(node).value(name) == value


def answers(node: LocalWorker, path: str, status: int) -> Callable[[], bool]:
    return lambda: probe(node, path) == status


def outputs(outcomes: list[JobOutcome]) -> list[dict[str, Any]]:
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    return [o.output or {} for o in outcomes]


def delta(before: Page, after: Page, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def saved_tokens(outs: list[dict[str, Any]]) -> tuple[int, int]:
    shared = [o for o in outs if o["cacheHit"] or o["coalesced"]]
    return (
        sum(o["usage"]["inputTokens"] for o in shared),
        sum(o["usage"]["outputTokens"] for o in shared),
    )


def cost(input_tokens: int, output_tokens: int) -> float:
    """USD at :data:`PRICE`."""
    per_million = input_tokens * PRICE["input_per_million"]
    return (per_million + output_tokens * PRICE["output_per_million"]) / 1e6


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_lookups_and_completions_add_up_to_the_jobs_run(nodes: Nodes, pool: str) -> None:
    node = nodes.threads if pool == "threads" else nodes.prefork
    fresh = [request(f"count {i}") for i in range(6)]
    before = scrape(node)
    if node is nodes.threads:
        outs = outputs(nodes.run(node, fresh))  # misses
    else:
        outputs(nodes.run(nodes.threads, fresh))  # into L2, counted on the other node's page
        outs = outputs(nodes.run(node, [request(f"count new {i}") for i in range(3)]))
    outs += outputs(nodes.run(node, fresh + fresh))  # repeats: L1 or L2 hits
    after = scrape(node)

    assert delta(before, after, "llmix_completions_total") == len(outs)
    assert delta(before, after, "llmix_completions_total", outcome="ok") == len(outs)
    assert delta(before, after, "llmix_cache_lookups_total") == len(outs)
    by_outcome = {
        outcome: sum(o["cacheHit"] == tier for o in outs)
        for outcome, tier in (("l1_hit", "l1"), ("l2_hit", "l2"), ("miss", None))
    }
    lookups = {o: delta(before, after, "llmix_cache_lookups_total", outcome=o) for o in by_outcome}
    assert lookups == by_outcome
    assert by_outcome["miss"] > 0 and by_outcome["l1_hit"] + by_outcome["l2_hit"] > 0
    cached = by_outcome["l1_hit"] + by_outcome["l2_hit"]
    assert delta(before, after, "llmix_completion_duration_seconds_count") == len(outs)
    misses = delta(before, after, "llmix_completion_duration_seconds_count", cache="miss")
    assert misses == by_outcome["miss"]
    assert cached == sum(
        delta(before, after, "llmix_completion_duration_seconds_count", cache=c)
        for c in ("l1_hit", "l2_hit")
    )
    saved_in, saved_out = saved_tokens(outs)
    assert delta(before, after, "llmix_tokens_saved_total", direction="input") == saved_in
    assert delta(before, after, "llmix_tokens_saved_total", direction="output") == saved_out
    paid = [o for o in outs if not o["cacheHit"] and not o["coalesced"]]
    assert delta(before, after, "llmix_tokens_total", direction="output") == sum(
        o["usage"]["outputTokens"] for o in paid
    )
    assert delta(before, after, "llmix_cost_saved_usd_total") == pytest.approx(
        cost(saved_in, saved_out)
    )
    promtool_check(after.text)


def test_prefork_counts_every_child_and_only_live_ones_as_up(nodes: Nodes) -> None:
    node = nodes.prefork
    before = scrape(node)
    outs = outputs(nodes.run(node, [request(f"recycle {i}") for i in range(4 * PREFORK_CHILDREN)]))
    writers = {p.stem.rpartition("_")[2] for p in nodes.node_dir(node).glob("counter_*.db")}
    assert len(writers) > PREFORK_CHILDREN, "max_tasks_per_child=2 should have recycled children"
    eventually(
        lambda: scrape(node).value("llmix_worker_processes") == PREFORK_CHILDREN,
        f"llmix_worker_processes == {PREFORK_CHILDREN} after recycling",
    )
    after = scrape(node)
    assert delta(before, after, "llmix_completions_total") == len(outs)
    assert delta(before, after, "llmix_cache_lookups_total", outcome="miss") == len(outs)
    eventually(gauge_is(node, "llmix_l2_healthy", 1), "L2 healthy in every live child")
    assert scrape(nodes.threads).value("llmix_worker_processes") == 1


def test_errors_retries_requeues_and_breaker_follow_the_jobs(nodes: Nodes) -> None:
    stub, node = nodes.fleet.stub, nodes.errors
    assert stub is not None
    before = scrape(node)
    stub.script(429)  # Retry-After 1 s: retried inline, then answered
    inline = nodes.run(node, [request("inline retry")])
    stub.script({"status": 429, "retry_after": 3})  # longer than the 1.5 s inline wait: re-queued
    requeued = nodes.run(node, [request("requeue")])
    mid = scrape(node)
    assert all(o.ok for o in inline + requeued), [o.error for o in inline + requeued]
    assert delta(before, mid, "llmix_completions_total", outcome="ok") == 2
    assert (
        delta(before, mid, "llmix_completions_total", outcome="error") == 0
    )  # a re-queue is no end
    assert delta(before, mid, "llmix_llm_errors_total", status_class="429") == 2
    assert delta(before, mid, "llmix_llm_errors_total") == 2
    assert delta(before, mid, "llmix_llm_retries_total") == 1
    assert delta(before, mid, "llmix_requeues_total") == 1
    assert mid.value("llmix_circuit_breaker_state", provider="openai") == 0

    failing = request("always [[stub:503]]")
    [outcome] = nodes.run(node, [failing])
    after = scrape(node)
    assert not outcome.ok
    assert delta(mid, after, "llmix_completions_total", outcome="error") == 1
    assert delta(mid, after, "llmix_requeues_total") == 1  # max_requeues, then it gives up
    tries = 1 + delta(mid, after, "llmix_requeues_total")
    attempts = tries + delta(mid, after, "llmix_llm_retries_total")
    assert delta(mid, after, "llmix_llm_errors_total") == attempts
    assert delta(mid, after, "llmix_llm_errors_total", status_class="5xx") == calls_for(
        nodes.fleet, failing
    )
    assert after.value("llmix_circuit_breaker_state", provider="openai") == 2
    promtool_check(after.text)


def test_shared_calls_count_as_waits_and_save_tokens(nodes: Nodes) -> None:
    same = request("shared [[stub:slow=800]]")
    pages = (nodes.threads, nodes.prefork)
    before = [scrape(n) for n in pages]
    ids = [nodes.producer.submit(same, queue=n.name) for n in (*pages, *pages)]
    outs = [nodes.producer.app.AsyncResult(i).get(timeout=60) for i in ids]
    after = [scrape(n) for n in pages]

    def total(name: str, **labels: str) -> float:
        return sum(delta(b, a, name, **labels) for b, a in zip(before, after, strict=True))

    assert calls_for(nodes.fleet, same) == 1
    assert total("llmix_single_flight_waits_total") == sum(o["coalesced"] for o in outs) >= 1
    saved_in, saved_out = saved_tokens(outs)
    assert total("llmix_tokens_saved_total", direction="input") == saved_in
    assert total("llmix_cost_saved_usd_total") == pytest.approx(cost(saved_in, saved_out))


def test_fleet_clear_moves_generation_and_drops_l1(nodes: Nodes) -> None:
    outputs(nodes.run(nodes.threads, [request(f"clear {i}") for i in range(3)]))
    eventually(lambda: scrape(nodes.threads).value("llmix_l1_entries") >= 3, "L1 entries >= 3")
    watched = (nodes.threads, nodes.prefork, nodes.errors)
    before = {n.hostname: scrape(n) for n in watched}
    control = build_fleet_control(nodes.fleet.settings())
    try:
        report = control.clear(timeout_s=60)  # every process answers: it returns then
    finally:
        control.close()
    assert report.complete and report.generation is not None
    acked = {row["node"]: row for row in report.nodes()}
    for node in watched:
        eventually(
            gauge_is(node, "llmix_fleet_generation", report.generation),
            f"{node.hostname} at generation {report.generation}",
        )
        page, row = scrape(node), acked[node.hostname]
        old = before[node.hostname]
        assert delta(old, page, "llmix_l1_dropped_entries_total") == row["dropped"]
        local_clears = delta(old, page, "llmix_cache_clears_total", scope="local", result="ok")
        if node is nodes.prefork:  # a child forked during the clear catches up without an ack
            assert local_clears >= row["processes"] >= 1
        else:
            assert local_clears == row["processes"] == 1
    assert acked[nodes.threads.hostname]["dropped"] >= 1  # the jobs above left entries in L1
    eventually(lambda: scrape(nodes.threads).value("llmix_l1_entries") == 0, "L1 empty")

    def fleet_clears() -> float:  # run from this process, as the CLI does: one worker counts it
        return sum(
            delta(before[n.hostname], scrape(n), "llmix_cache_clears_total", scope="fleet")
            for n in watched
        )

    eventually(lambda: fleet_clears() == 1, "the fleet clear counted once across the fleet")
    for node in watched:
        page = scrape(node)
        assert delta(before[node.hostname], page, "llmix_cache_clears_total", scope="fleet",
                     result="failed") == 0  # fmt: skip
    time.sleep(1.0)  # two sync intervals: nobody counts it a second time
    assert fleet_clears() == 1


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_every_known_provider_is_at_zero_before_its_first_call(nodes: Nodes, pool: str) -> None:
    node = nodes.threads if pool == "threads" else nodes.prefork

    def series(page: Page, name: str, **labels: str) -> list[float]:
        return [v for n, ls, v in page.samples if n == name and ls == labels]

    def at_zero() -> bool:  # anthropic is never called in this module
        page = scrape(node)
        return all(
            series(page, name, **labels) == [0.0]
            for name, labels in (
                ("llmix_llm_errors_total", {"provider": "anthropic", "status_class": "5xx"}),
                ("llmix_llm_errors_total", {"provider": "anthropic", "status_class": "429"}),
                ("llmix_llm_retries_total", {"provider": "anthropic"}),
                ("llmix_requeues_total", {"provider": "anthropic"}),
            )
        )

    outputs(nodes.run(node, [request(f"zero series {pool}")]))  # every child has started
    eventually(at_zero, f"anthropic's series at 0 on the {pool} node")


def test_readiness_follows_the_redis_and_liveness_stays(nodes: Nodes) -> None:
    redis = nodes.fleet.redis
    assert redis is not None
    watched = (nodes.threads, nodes.prefork)
    for node in watched:
        assert probe(node, "/readyz") == 200 and probe(node, "/healthz") == 200
    redis.pause()
    try:
        for node in watched:
            eventually(answers(node, "/readyz", 503), "/readyz 503")
            assert probe(node, "/healthz") == 200
    finally:
        redis.resume()
    for node in watched:
        eventually(answers(node, "/readyz", 200), "/readyz 200 again")
        assert probe(node, "/healthz") == 200
