"""Helpers of the fault suite: worker settings, figures from outcomes, metrics scrapes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from llmix_workers.producer import JobOutcome
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.testing.waiting import eventually

#: Short delivery and fleet timings so faults play out in seconds, not minutes.
FAST_ENV = {
    "LLMIX_WORKER__VISIBILITY_TIMEOUT_S": "6",
    "LLMIX_WORKER__RESTORE_INTERVAL_S": "0.5",
    "LLMIX_WORKER__PREFETCH_MULTIPLIER": "1",
    "LLMIX_FLEET__SYNC_INTERVAL_S": "0.5",
    "LLMIX_FLEET__LEASE_S": "1.5",
    "LLMIX_FLEET__MEMBER_TTL_S": "3",
    "LLMIX_FLEET__LOCK_TTL_S": "2",
    "LLMIX_LLM__TIMEOUT_S": "10",
    "LLMIX_LLM__MAX_INLINE_WAIT_S": "1.5",
}

NO_RESULT = "no result within"


def split_env(broker_url: str, cache_url: str, fleet_url: str | None = None) -> dict[str, str]:
    """Worker environment with the broker/results apart from the cache (and fleet) Redis."""
    return {
        "LLMIX_REDIS__URL": cache_url,
        "LLMIX_WORKER__BROKER_URL": broker_url,
        "LLMIX_WORKER__RESULT_BACKEND": broker_url,
        "LLMIX_FLEET__REDIS_URL": fleet_url or cache_url,
    }


def figures(
    outcomes: Sequence[JobOutcome],
    *,
    provider_calls: int,
    distinct: int,
    baseline_ms: float = 0.0,
) -> dict[str, float | int]:
    """The standard figures of a batch: counts, calls beyond one per distinct request, and
    the worst worker-side latency above ``baseline_ms`` (what the stub alone takes)."""
    lost = [o for o in outcomes if o.error is not None and o.error.startswith(NO_RESULT)]
    failed = [o for o in outcomes if o.error is not None and o not in lost]
    latencies = [float((o.output or {}).get("latencyMs", 0.0)) for o in outcomes if o.ok]
    return {
        "submitted": len(outcomes),
        "completed": len(outcomes) - len(failed) - len(lost),
        "failed": len(failed),
        "lost": len(lost),
        "provider_calls": provider_calls,
        "duplicated_calls": max(0, provider_calls - distinct),
        "worst_added_latency_ms": round(max(latencies, default=0.0) - baseline_ms, 1),
    }


def errors_of(outcomes: Iterable[JobOutcome]) -> list[str]:
    return [o.error for o in outcomes if o.error is not None]


def scrape(port: int) -> dict[str, float]:
    """A worker node's metrics page as ``{"name{label=value,...}": value}``."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def total(samples: dict[str, float], name: str) -> float:
    """Sum of every sample of ``name`` whatever its labels."""
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` every 50 ms; fail the test naming ``what`` if it stays false
    (:func:`~llmix_workers.testing.waiting.eventually`)."""
    eventually(condition, what, timeout_s=timeout_s)


def stub_total(fleet: LocalFleet) -> int:
    assert fleet.stub is not None
    return int(fleet.stub.calls()["total"])


def outputs(outcomes: Iterable[JobOutcome]) -> list[dict[str, Any]]:
    return [o.output or {} for o in outcomes if o.ok]
