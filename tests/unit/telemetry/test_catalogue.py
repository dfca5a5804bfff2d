"""The exported families are exactly the catalogue, and promtool accepts the exposition."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from llmix_workers.settings import TelemetrySettings
from llmix_workers.telemetry.metrics import Metrics
from tests.unit.telemetry.support import populate

#: Copied by hand from the catalogue in the issue, so a typo in the code fails here.
CATALOGUE = {
    "llmix_cache_lookups_total": ("counter", {"outcome"}),
    "llmix_l2_healthy": ("gauge", set()),
    "llmix_l2_errors_total": ("counter", {"operation"}),
    "llmix_l2_blocked_reads_total": ("counter", set()),
    "llmix_l1_entries": ("gauge", set()),
    "llmix_l1_dropped_entries_total": ("counter", set()),
    "llmix_cache_clears_total": ("counter", {"scope", "result"}),
    "llmix_fleet_generation": ("gauge", set()),
    "llmix_fleet_lease_valid": ("gauge", set()),
    "llmix_single_flight_waits_total": ("counter", {"kind"}),
    "llmix_fleet_lock_takeovers_total": ("counter", set()),
    "llmix_completions_total": ("counter", {"provider", "model", "outcome"}),
    "llmix_completion_duration_seconds": ("histogram", {"cache"}),
    "llmix_llm_call_duration_seconds": ("histogram", {"provider", "model"}),
    "llmix_llm_errors_total": ("counter", {"provider", "status_class"}),
    "llmix_llm_retries_total": ("counter", {"provider"}),
    "llmix_requeues_total": ("counter", {"provider"}),
    "llmix_circuit_breaker_state": ("gauge", {"provider"}),
    "llmix_tokens_total": ("counter", {"provider", "model", "direction"}),
    "llmix_tokens_saved_total": ("counter", {"provider", "model", "direction"}),
    "llmix_cost_saved_usd_total": ("counter", {"provider", "model"}),
    "llmix_worker_processes": ("gauge", set()),
    "llmix_budget_requests_total": ("counter", {"budget"}),
    "llmix_budget_tokens_total": ("counter", {"budget"}),
    "llmix_budget_waits_total": ("counter", {"budget"}),
    "llmix_budget_wait_seconds_total": ("counter", {"budget"}),
    "llmix_budget_refusals_total": ("counter", {"budget"}),
    "llmix_budget_fallbacks_total": ("counter", {"budget"}),
    "llmix_budget_shrinks_total": ("counter", {"budget"}),
}


def test_registry_exports_exactly_the_catalogue(registry: CollectorRegistry) -> None:
    populate(Metrics.from_settings(TelemetrySettings(), registry))
    exported = {}
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {key for s in family.samples for key in s.labels if key != "le"}
        exported[name] = (family.type, labels)
    assert exported == CATALOGUE


def test_promtool_accepts_the_exposition(registry: CollectorRegistry) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "promtool not found: install Debian's prometheus package (apt-get install prometheus)"
        )
    populate(Metrics.from_settings(TelemetrySettings(), registry))
    exposition = generate_latest(registry)
    assert b"llmix_cost_saved_usd_total{" in exposition
    result = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.strip() == b"", result.stdout.decode()
