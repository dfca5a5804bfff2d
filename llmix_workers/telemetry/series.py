"""The label children one model or one provider writes to, bound once when first used."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

from llmix_workers.telemetry.bound import Hit, Inc, bound_hit, bound_inc
from llmix_workers.telemetry.catalogue import (
    COMPLETION_OUTCOMES,
    JOB_CACHE,
    STATUS_CLASSES,
    Families,
)


@dataclass(frozen=True, slots=True)
class ModelSeries:
    """One ``(provider, model label)``: every child a job of that model writes."""

    completions: dict[str, Inc]
    call_duration: Histogram
    tokens: tuple[Inc, Inc]
    saved: tuple[Inc, Inc]
    cost_saved: Inc
    #: By ``cache`` outcome: a hit's six increments in one call (absent in multiprocess mode).
    hits: dict[str, Hit]


@dataclass(frozen=True, slots=True)
class ProviderSeries:
    """One provider: its error, retry and re-queue counters and its breaker gauge."""

    errors: dict[str, Counter]
    retries: Counter
    requeues: Counter
    breaker: Gauge


def model_series(f: Families, provider: str, model: str, lock: threading.Lock) -> ModelSeries:
    """Bind (and so create, at zero) every child of ``(provider, model)``."""
    ok = f.completions.labels(provider, model, "ok")
    saved = (
        f.tokens_saved.labels(provider, model, "input"),
        f.tokens_saved.labels(provider, model, "output"),
    )
    usd = f.cost_saved.labels(provider, model)
    hits = {
        cache: hit
        for cache in JOB_CACHE
        if (hit := bound_hit(ok, f.completion_duration.labels(cache), saved, usd, lock))
    }
    inc: Callable[[Counter], Inc] = lambda child: bound_inc(child, lock)  # noqa: E731
    return ModelSeries(
        completions={o: inc(f.completions.labels(provider, model, o)) for o in COMPLETION_OUTCOMES},
        call_duration=f.llm_call_duration.labels(provider, model),
        tokens=(
            inc(f.tokens.labels(provider, model, "input")),
            inc(f.tokens.labels(provider, model, "output")),
        ),
        saved=(inc(saved[0]), inc(saved[1])),
        cost_saved=inc(usd),
        hits=hits,
    )


def provider_series(f: Families, provider: str) -> ProviderSeries:
    """Create (at zero) every child of ``provider``: errors by status class, retries,
    re-queues and the breaker gauge (closed)."""
    return ProviderSeries(
        errors={c: f.llm_errors.labels(provider, c) for c in STATUS_CLASSES},
        retries=f.llm_retries.labels(provider),
        requeues=f.requeues.labels(provider),
        breaker=f.breaker_state.labels(provider),
    )
