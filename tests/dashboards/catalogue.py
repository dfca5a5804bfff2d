"""The metric catalogue of issue 9: family name -> (type, label values to export).

Kept here until ``llmix_workers.telemetry`` lands; the lead replaces this table by the metrics
module's own list (names, types and label names must stay the same). The label values are the
fixed sets of the catalogue; ``provider`` and ``model`` are examples.
"""

from __future__ import annotations

PROVIDER = ("openai", "anthropic")
MODEL = ("gpt-4o-mini",)
DIRECTION = ("input", "output")

CATALOGUE: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "llmix_cache_lookups_total": ("counter", {"outcome": ("l1_hit", "l2_hit", "miss")}),
    "llmix_l2_healthy": ("gauge", {}),
    "llmix_l2_errors_total": ("counter", {"operation": ("get", "set", "delete")}),
    "llmix_l2_blocked_reads_total": ("counter", {}),
    "llmix_l1_entries": ("gauge", {}),
    "llmix_l1_dropped_entries_total": ("counter", {}),
    "llmix_cache_clears_total": (
        "counter",
        {"scope": ("local", "fleet"), "result": ("ok", "failed", "incomplete")},
    ),
    "llmix_fleet_generation": ("gauge", {}),
    "llmix_single_flight_waits_total": ("counter", {"kind": ("in_process", "fleet_lock")}),
    "llmix_fleet_lock_takeovers_total": ("counter", {}),
    "llmix_completions_total": (
        "counter",
        {"provider": PROVIDER, "model": MODEL, "outcome": ("ok", "error")},
    ),
    "llmix_completion_duration_seconds": ("histogram", {"cache": ("l1_hit", "l2_hit", "miss")}),
    "llmix_llm_call_duration_seconds": ("histogram", {"provider": PROVIDER, "model": MODEL}),
    "llmix_llm_errors_total": (
        "counter",
        {
            "provider": PROVIDER,
            "status_class": ("4xx", "429", "5xx", "timeout", "network", "circuit_open"),
        },
    ),
    "llmix_llm_retries_total": ("counter", {"provider": PROVIDER}),
    "llmix_requeues_total": ("counter", {"provider": PROVIDER}),
    "llmix_circuit_breaker_state": ("gauge", {"provider": PROVIDER}),
    "llmix_tokens_total": (
        "counter",
        {"provider": PROVIDER, "model": MODEL, "direction": DIRECTION},
    ),
    "llmix_tokens_saved_total": (
        "counter",
        {"provider": PROVIDER, "model": MODEL, "direction": DIRECTION},
    ),
    "llmix_cost_saved_usd_total": ("counter", {"provider": PROVIDER, "model": MODEL}),
    "llmix_worker_processes": ("gauge", {}),
}

BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)  # fmt: skip
