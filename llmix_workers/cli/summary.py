"""BatchSummary: what a batch of completion jobs did, as numbers, a table and JSON."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from llmix_workers.cli.output import print_table
from llmix_workers.producer import JobOutcome

COLUMNS = ("jobs", "failures", "L1 hits", "L2 hits", "provider calls", "shared", "re-queued",
           "p50 ms", "p95 ms", "tokens saved", "wall s")  # fmt: skip


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """Counts over a batch. ``coalesced`` (shown as "shared") are jobs that waited for another
    job's in-flight call, in their process or through the fleet lock; the hit counts and
    ``provider_calls`` cover the other jobs; ``tokens_saved`` adds up the original usage of
    every job that did not pay for its own call; ``requeued`` counts jobs re-queued at least
    once after a retryable provider error; ``failures_by_type`` counts failures by error type."""

    jobs: int
    failures: int
    l1_hits: int
    l2_hits: int
    coalesced: int
    provider_calls: int
    p50_ms: float | None
    p95_ms: float | None
    tokens_saved: int
    wall_s: float
    requeued: int = 0
    failures_by_type: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, outcomes: Iterable[JobOutcome], wall_s: float = 0.0) -> BatchSummary:
        outcomes = list(outcomes)
        outputs = [o.output for o in outcomes if o.ok and o.output is not None]
        own = [out.get("cacheHit") for out in outputs if not out.get("coalesced")]
        latencies = sorted(float(out.get("latencyMs", 0.0)) for out in outputs)
        saved = sum(
            int((out.get("usage") or {}).get("totalTokens", 0))
            for out in outputs
            if out.get("cacheHit") or out.get("coalesced")
        )
        kinds = Counter(o.error_type or "Error" for o in outcomes if not o.ok)
        return cls(
            jobs=len(outcomes),
            failures=len(outcomes) - len(outputs),
            l1_hits=own.count("l1"),
            l2_hits=own.count("l2"),
            coalesced=len(outputs) - len(own),
            provider_calls=own.count(None),
            p50_ms=_percentile(latencies, 50),
            p95_ms=_percentile(latencies, 95),
            tokens_saved=saved,
            wall_s=wall_s,
            requeued=sum(1 for o in outcomes if o.requeues),
            failures_by_type=dict(kinds.most_common()),
        )

    def row(self) -> list[str]:
        return [
            f"{self.jobs:,}", f"{self.failures:,}", f"{self.l1_hits:,}", f"{self.l2_hits:,}",
            f"{self.provider_calls:,}", f"{self.coalesced:,}", f"{self.requeued:,}",
            _ms(self.p50_ms), _ms(self.p95_ms), f"{self.tokens_saved:,}", f"{self.wall_s:.2f}",
        ]  # fmt: skip

    def print(self, out: Console, title: str = "completion jobs") -> None:
        """The summary table, then failures by error type when there are any."""
        print_table(out, title, COLUMNS, [self.row()])
        if self.failures_by_type:
            kinds = ", ".join(f"{kind} {count:,}" for kind, count in self.failures_by_type.items())
            out.print(f"failures by type: {kinds}", markup=False, soft_wrap=True)

    def as_json(self) -> dict[str, Any]:
        return {
            "jobs": self.jobs, "failures": self.failures, "l1Hits": self.l1_hits,
            "l2Hits": self.l2_hits, "providerCalls": self.provider_calls,
            "shared": self.coalesced, "requeued": self.requeued, "p50Ms": self.p50_ms,
            "p95Ms": self.p95_ms, "tokensSaved": self.tokens_saved,
            "wallSeconds": round(self.wall_s, 3), "failuresByType": self.failures_by_type,
        }  # fmt: skip


def _percentile(ordered: list[float], pct: int) -> float | None:
    if not ordered:
        return None
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[pct - 1]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"
