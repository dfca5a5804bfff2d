"""Shared by the telemetry tests: a Metrics with every family populated."""

from __future__ import annotations

from llmix_workers.settings import ModelPrice
from llmix_workers.telemetry.budget_metrics import BudgetMetrics
from llmix_workers.telemetry.metrics import Metrics

PRICES = {"gpt-4o": ModelPrice(input_per_million=2.5, output_per_million=10.0)}


def populate(metrics: Metrics) -> None:
    """Call every method once, so every family has at least one sample."""
    for outcome in ("l1_hit", "l2_hit", "miss"):
        metrics.lookup(outcome)
    metrics.completion("openai", "gpt-4o", "ok", "miss", 0.8)
    metrics.llm_call("openai", "gpt-4o", 0.7)
    metrics.tokens("openai", "gpt-4o", 100, 20)
    metrics.tokens_saved("openai", "gpt-4o", 100, 20)
    metrics.llm_error("openai", "429")
    metrics.retry("openai")
    metrics.requeue("openai")
    metrics.breaker_state("openai", "HALF_OPEN")
    metrics.l2_error("get")
    metrics.l2_healthy(True)
    metrics.l1_entries(3)
    metrics.l1_dropped(2)
    metrics.clear("fleet", "ok")
    metrics.generation(7)
    metrics.lease_valid(True)
    metrics.blocked_read()
    metrics.single_flight_wait("fleet_lock")
    metrics.lock_takeover()
    metrics.worker_process(True)
    budgets = BudgetMetrics(metrics)
    budgets.drew("openai", 120, 0.5, local=True)
    budgets.refused("openai", 2.0, local=False)
    budgets.shrunk("openai")
