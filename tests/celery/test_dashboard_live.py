"""Every dashboard query returns data from a real Prometheus scraping real worker nodes.

A threads node and a prefork node (private Redis, the stub provider, a price table, a budget)
run a small workload that touches every panel: misses, L1 and L2 hits, a final provider error,
an inline retry, a re-queue (both 429s, which shrink the budget), a shared call, a fleet clear. Prometheus scrapes both nodes every second
from before the workload starts, so every ``rate()`` window holds it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llmix_workers.errors import ConfigError
from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from llmix_workers.testing.prometheus import PrivatePrometheus
from llmix_workers.testing.promql import dashboard_queries
from llmix_workers.testing.redis_server import free_port
from llmix_workers.wiring.fleet import build_fleet_control
from tests.celery.conftest import FAST_DELIVERY
from tests.celery.jobs import request
from tests.dashboards.conftest import DASHBOARD_JSON

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

JOB = "llmix-workers"
PRICES = {"gpt-4o-mini": {"input_per_million": 0.15, "output_per_million": 0.6}}
#: A budget the workload never runs short of; its 429s shrink it (the Budgets row).
BUDGETS = {"openai": {"rpm": 100_000, "tpm": 100_000_000}}


def run_workload(
    fleet: LocalFleet, threads: LocalWorker, prefork: LocalWorker, settle: Callable[[], None]
) -> None:
    """Jobs that make every panel of the dashboard move (see the module docstring).

    ``settle`` waits for scrapes once every series exists at zero (a provider's series are made
    by its first call), so ``increase()`` sees the errors that come after.
    """
    stub, producer = fleet.stub, CompletionProducer(fleet.settings(producer={"cache_first": False}))
    assert stub is not None

    def run(node: LocalWorker, requests: list[dict[str, Any]], ok: bool = True) -> None:
        outcomes = producer.run_batch(requests, queue=node.name, timeout_s=90)
        assert all(o.ok == ok for o in outcomes), [o.error for o in outcomes]

    fresh = [request(f"panel {i}") for i in range(6)]
    run(threads, fresh)  # misses, written to L2
    run(threads, fresh)  # L1 hits
    run(prefork, fresh + fresh)  # L2 hits, then L1 hits in the children that saw them
    settle()
    run(threads, [request("final [[stub:400]]")], ok=False)
    stub.script(429)  # Retry-After 1 s: one inline retry
    run(threads, [request("inline retry")])
    stub.script({"status": 429, "retry_after": 2})  # past the 1.5 s inline wait: one re-queue
    run(threads, [request("requeue")])
    same = request("shared [[stub:slow=800]]")
    ids = [producer.submit(same, queue=n.name) for n in (threads, threads, prefork)]
    outs = [producer.app.AsyncResult(i).get(timeout=60) for i in ids]
    assert any(o["coalesced"] for o in outs)
    control = build_fleet_control(fleet.settings())
    try:
        assert control.clear(timeout_s=10).complete
    finally:
        control.close()
    run(threads, fresh[:2])  # misses again after the clear


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrivatePrometheus]:
    env = {**FAST_DELIVERY, "LLMIX_TELEMETRY__PRICES": json.dumps(PRICES),
           "LLMIX_LLM__BUDGETS": json.dumps(BUDGETS)}  # fmt: skip
    with LocalFleet(worker_env=env) as fleet:
        threads = fleet.add_worker("dt", queues="dt", concurrency=4, metrics_port=free_port())
        prefork = fleet.add_worker(
            "dp", queues="dp", pool="prefork", concurrency=3, metrics_port=free_port()
        )
        targets = [f"127.0.0.1:{n.metrics_port}" for n in (threads, prefork)]
        try:
            server = PrivatePrometheus(targets, job=JOB)
        except ConfigError as exc:
            pytest.fail(str(exc))
        with server:  # started here
            server.wait_for_targets_up()
            server.wait_for_scrapes(2)
            run_workload(fleet, threads, prefork, lambda: more_scrapes(server, 2))
            more_scrapes(server, 2)
            yield server


def more_scrapes(server: PrivatePrometheus, count: int) -> None:
    """Wait until every target has been scraped ``count`` more times from now."""
    done = server.query(f'min(count_over_time(up{{job="{JOB}"}}[5m]))')
    server.wait_for_scrapes(int(float(done[0]["value"][1])) + count)


def numbers(result: list[dict[str, Any]]) -> list[float]:
    return [float(sample["value"][1]) for sample in result]


@pytest.mark.parametrize("variables", [{}, {"job": JOB}], ids=["all", "job"])
def test_every_dashboard_query_returns_data(
    prometheus: PrivatePrometheus, variables: dict[str, str]
) -> None:
    queries = dashboard_queries(DASHBOARD_JSON, **variables)
    assert len(queries) >= 30
    empty = [
        f"{title}: {expr}"
        for title, expr in queries
        if all(math.isnan(v) for v in numbers(prometheus.query(expr)))
    ]
    assert not empty, "no data (or only NaN) for:\n" + "\n".join(empty)


@pytest.mark.parametrize(
    "expr",
    [
        'sum(up{job="llmix-workers"})',
        'sum(increase(llmix_cache_lookups_total{outcome="l1_hit"}[1m]))',
        'sum(increase(llmix_cache_lookups_total{outcome="l2_hit"}[1m]))',
        'sum(increase(llmix_llm_errors_total{status_class="4xx"}[1m]))',
        'sum(increase(llmix_llm_errors_total{status_class="429"}[1m]))',
        "sum(increase(llmix_llm_retries_total[1m]))",
        "sum(increase(llmix_requeues_total[1m]))",
        "sum(increase(llmix_single_flight_waits_total[1m]))",
        'sum(increase(llmix_cache_clears_total{scope="local"}[1m]))',
        "sum(increase(llmix_l1_dropped_entries_total[1m]))",
        "max(llmix_fleet_generation)",
        "sum(increase(llmix_cost_saved_usd_total[1m]))",
        'sum(increase(llmix_completions_total{outcome="error"}[1m]))',
        "sum(increase(llmix_budget_requests_total[1m]))",
        "sum(increase(llmix_budget_shrinks_total[1m]))",
    ],
)
def test_the_workload_shows(prometheus: PrivatePrometheus, expr: str) -> None:
    assert [v > 0 for v in numbers(prometheus.query(expr))] == [True]


def test_both_pools_count_their_processes(prometheus: PrivatePrometheus) -> None:
    by_instance = prometheus.query("llmix_worker_processes")
    assert sorted(numbers(by_instance)) == [1.0, 3.0]
