"""BatchSummary: what a batch of completion jobs did, as numbers and as a rich table."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from rich.table import Table

from llmix_workers.producer import JobOutcome


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """Counts over a batch. ``coalesced`` (shown as "shared") are jobs that waited for another
    job's in-flight call, in their process or through the fleet lock; the hit counts and
    ``provider_calls`` cover the other jobs; ``tokens_saved`` adds up the original usage of
    every job that did not pay for its own call."""

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
        )

    def table(self, title: str = "completion jobs") -> Table:
        table = Table(title=title)
        for column in ("jobs", "failures", "L1 hits", "L2 hits", "provider calls", "shared",
                       "p50 ms", "p95 ms", "tokens saved", "wall s"):  # fmt: skip
            table.add_column(column, justify="right")
        table.add_row(
            str(self.jobs), str(self.failures), str(self.l1_hits), str(self.l2_hits),
            str(self.provider_calls), str(self.coalesced), _ms(self.p50_ms), _ms(self.p95_ms),
            f"{self.tokens_saved:,}", f"{self.wall_s:.2f}",
        )  # fmt: skip
        return table


def _percentile(ordered: list[float], pct: int) -> float | None:
    if not ordered:
        return None
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[pct - 1]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
