"""The metric catalogue: every ``llmix_*`` family, its labels, label values and buckets.

The names are fixed: the Grafana dashboard, the alert rules and the code use exactly these.
Label values come from the small sets below; ``model`` is bounded by
:class:`~llmix_workers.telemetry.metrics.Metrics`. Gauges carry the prometheus-client
multiprocess mode that makes them add up on a prefork node (ignored in a single process).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: How a job was answered inside a worker (``cache`` label of the job latency).
JOB_CACHE: Final = ("l1_hit", "l2_hit", "miss")
#: Lookups: a worker's, and ``producer_hit`` for a job a cache-first producer answered.
LOOKUP_OUTCOMES: Final = (*JOB_CACHE, "producer_hit")
L2_OPERATIONS: Final = ("get", "set", "delete")
CLEAR_SCOPES: Final = ("local", "fleet")
CLEAR_RESULTS: Final = ("ok", "failed", "incomplete")
WAIT_KINDS: Final = ("in_process", "fleet_lock")
COMPLETION_OUTCOMES: Final = ("ok", "error")
STATUS_CLASSES: Final = ("4xx", "429", "5xx", "timeout", "network", "circuit_open")
DIRECTIONS: Final = ("input", "output")
#: The ``model`` label of every model past the first ``max_models`` seen by a process.
OTHER_MODEL: Final = "other"

#: Latency buckets in seconds, from an L1 hit (sub-millisecond) to a slow provider call.
DURATION_BUCKETS_S: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)  # fmt: skip

_PM: Final = ("provider", "model")


@dataclass(frozen=True)
class Families:
    """The metric families of one registry, one attribute per catalogue entry."""

    lookups: Counter
    l2_healthy: Gauge
    l2_errors: Counter
    l2_blocked_reads: Counter
    l1_entries: Gauge
    l1_dropped: Counter
    clears: Counter
    fleet_generation: Gauge
    fleet_lease: Gauge
    single_flight_waits: Counter
    lock_takeovers: Counter
    completions: Counter
    completion_duration: Histogram
    llm_call_duration: Histogram
    llm_errors: Counter
    llm_retries: Counter
    requeues: Counter
    breaker_state: Gauge
    tokens: Counter
    tokens_saved: Counter
    cost_saved: Counter
    worker_processes: Gauge
    budget_requests: Counter
    budget_tokens: Counter
    budget_waits: Counter
    budget_wait_seconds: Counter
    budget_refusals: Counter
    budget_fallbacks: Counter
    budget_shrinks: Counter


def create_families(registry: CollectorRegistry) -> Families:
    """Register every catalogue metric in ``registry``.

    Raises ``ValueError`` (from prometheus-client) when ``registry`` already holds them.
    """
    r = registry
    return Families(
        lookups=Counter(
            "llmix_cache_lookups",
            "Cache lookups made by workers and producers.",
            ["outcome"],
            registry=r,
        ),
        l2_healthy=Gauge(
            "llmix_l2_healthy",
            "1 when this worker's L2 is usable, 0 when marked unhealthy or in a hang's cool-off.",
            registry=r,
            multiprocess_mode="livemin",
        ),
        l2_errors=Counter("llmix_l2_errors", "Failed L2 operations.", ["operation"], registry=r),
        l2_blocked_reads=Counter(
            "llmix_l2_blocked_reads",
            "L2 reads refused because the fleet blocked L2 after a failed clear.",
            registry=r,
        ),
        l1_entries=Gauge(
            "llmix_l1_entries", "Entries in L1.", registry=r, multiprocess_mode="livesum"
        ),
        l1_dropped=Counter(
            "llmix_l1_dropped_entries",
            "L1 entries dropped because the fleet generation moved.",
            registry=r,
        ),
        clears=Counter("llmix_cache_clears", "Cache clears.", ["scope", "result"], registry=r),
        fleet_generation=Gauge(
            "llmix_fleet_generation",
            "Fleet generation this worker has applied.",
            registry=r,
            multiprocess_mode="livemax",
        ),
        fleet_lease=Gauge(
            "llmix_fleet_lease_valid",
            "1 while this worker holds a lease on the fleet state (may serve from its caches), "
            "0 while it cannot prove it is current (every lookup a miss).",
            registry=r,
            multiprocess_mode="livemin",
        ),
        single_flight_waits=Counter(
            "llmix_single_flight_waits",
            "Jobs that waited for another job's in-flight call.",
            ["kind"],
            registry=r,
        ),
        lock_takeovers=Counter(
            "llmix_fleet_lock_takeovers",
            "Fleet locks taken over after the holder vanished.",
            registry=r,
        ),
        completions=Counter(
            "llmix_completions",
            "Finished completion jobs.",
            [*_PM, "outcome"],
            registry=r,
        ),
        completion_duration=Histogram(
            "llmix_completion_duration_seconds",
            "Completion job latency inside the worker.",
            ["cache"],
            registry=r,
            buckets=DURATION_BUCKETS_S,
        ),
        llm_call_duration=Histogram(
            "llmix_llm_call_duration_seconds",
            "One provider call, all attempts included.",
            _PM,
            registry=r,
            buckets=DURATION_BUCKETS_S,
        ),
        llm_errors=Counter(
            "llmix_llm_errors", "Provider errors.", ["provider", "status_class"], registry=r
        ),
        llm_retries=Counter(
            "llmix_llm_retries", "Retries inside the worker.", ["provider"], registry=r
        ),
        requeues=Counter(
            "llmix_requeues",
            "Jobs re-queued with a countdown (long Retry-After).",
            ["provider"],
            registry=r,
        ),
        breaker_state=Gauge(
            "llmix_circuit_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["provider"],
            registry=r,
            multiprocess_mode="livemax",
        ),
        tokens=Counter(
            "llmix_tokens",
            "Tokens paid for in provider calls.",
            [*_PM, "direction"],
            registry=r,
        ),
        tokens_saved=Counter(
            "llmix_tokens_saved",
            "Tokens not paid thanks to cache hits and shared calls.",
            [*_PM, "direction"],
            registry=r,
        ),
        cost_saved=Counter(
            "llmix_cost_saved_usd",
            "USD saved by cache hits and shared calls, from the price table.",
            _PM,
            registry=r,
        ),
        worker_processes=Gauge(
            "llmix_worker_processes",
            "Live worker processes that hold an L1.",
            registry=r,
            multiprocess_mode="livesum",
        ),
        budget_requests=Counter(
            "llmix_budget_requests",
            "Provider calls granted by a fleet-wide budget.",
            ["budget"],
            registry=r,
        ),
        budget_tokens=Counter(
            "llmix_budget_tokens",
            "Tokens drawn from a fleet-wide budget, as estimated before each call.",
            ["budget"],
            registry=r,
        ),
        budget_waits=Counter(
            "llmix_budget_waits",
            "Calls that waited for their turn in a fleet-wide budget.",
            ["budget"],
            registry=r,
        ),
        budget_wait_seconds=Counter(
            "llmix_budget_wait_seconds",
            "Seconds calls waited for their turn in a fleet-wide budget.",
            ["budget"],
            registry=r,
        ),
        budget_refusals=Counter(
            "llmix_budget_refusals",
            "Calls sent back to the queue: their turn in the budget was too far away.",
            ["budget"],
            registry=r,
        ),
        budget_fallbacks=Counter(
            "llmix_budget_fallbacks",
            "Draws decided from this process's share, the fleet's Redis not answering.",
            ["budget"],
            registry=r,
        ),
        budget_shrinks=Counter(
            "llmix_budget_shrinks",
            "429s that shrank a fleet-wide budget for the whole fleet.",
            ["budget"],
            registry=r,
        ),
    )


#: The values each label takes, by (family name, label); ``provider`` and ``model`` are open
#: (every configured provider; models bounded per process, later ones as ``other``).
LABEL_VALUES: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("llmix_cache_lookups", "outcome"): LOOKUP_OUTCOMES,
    ("llmix_l2_errors", "operation"): L2_OPERATIONS,
    ("llmix_cache_clears", "scope"): CLEAR_SCOPES,
    ("llmix_cache_clears", "result"): CLEAR_RESULTS,
    ("llmix_single_flight_waits", "kind"): WAIT_KINDS,
    ("llmix_completions", "outcome"): COMPLETION_OUTCOMES,
    ("llmix_completion_duration_seconds", "cache"): JOB_CACHE,
    ("llmix_llm_errors", "status_class"): STATUS_CLASSES,
    ("llmix_tokens", "direction"): DIRECTIONS,
    ("llmix_tokens_saved", "direction"): DIRECTIONS,
}

#: What each family's help text leaves out: how it is counted, and how prefork nodes add up.
NOTES: Final[dict[str, str]] = {
    "llmix_cache_lookups": "One per job in the default cache mode, wherever it was answered: a "
    "job a cache-first producer answered from L2 counts one `producer_hit`, on one worker of the "
    "fleet at that worker's next fleet sync (the producer is not scraped).",
    "llmix_l2_healthy": "0 after three failed writes (the LLMix rule) until a write succeeds, "
    "and from a command that timed out (a hung Redis) until Redis answers or `cache.l2_cooloff_s` "
    "passes. Sampled every second; prefork: the minimum over live children.",
    "llmix_l1_entries": "Sampled every second; prefork: summed over live children.",
    "llmix_cache_clears": "Each process that drops its L1 for a fleet clear counts one `local`; "
    "each fleet clear counts one `fleet` on one worker of the fleet, wherever it ran (CLI, task "
    "or broadcast), at that worker's next fleet sync.",
    "llmix_fleet_generation": "Moves by one per clear; prefork: the maximum.",
    "llmix_fleet_lease_valid": "Sampled every second; prefork: the minimum (one child without a "
    "lease shows 0). See the consistency guide.",
    "llmix_completions": "A try that is re-queued is not finished. The series of a "
    "(provider, model) appear with its first job, every outcome at 0. Jobs a cache-first "
    "producer answered are not here (they are `producer_hit` lookups and savings).",
    "llmix_completion_duration_seconds": "`cache` says how the job was answered; jobs a "
    "producer answered are not timed here.",
    "llmix_llm_call_duration_seconds": "Includes the backoff between attempts and the wait "
    "for a fleet-wide budget's turn (`llmix_budget_wait_seconds_total` has that part alone).",
    "llmix_llm_errors": "Failed attempts. At 0 for every provider from the worker's start, so "
    "`increase()` sees a provider's first error.",
    "llmix_llm_retries": "At 0 for every provider from the worker's start.",
    "llmix_requeues": "A wait longer than `llm.max_inline_wait_s`; at 0 from the start.",
    "llmix_circuit_breaker_state": "Prefork: the maximum (the worst process wins).",
    "llmix_tokens_saved": "Jobs a cache-first producer answered count too, on the worker that "
    "took them (see `llmix_cache_lookups_total`).",
    "llmix_cost_saved_usd": "Saved tokens times the price table `[telemetry.prices]` (empty by "
    "default: then 0).",
    "llmix_worker_processes": "A threads node counts 1; a prefork node its live children.",
    "llmix_budget_requests": "`budget` is a name from `[llm.budgets]` (`provider` or "
    "`provider/model`). Every series of a budget appears at 0 with its first draw.",
    "llmix_budget_tokens": "Input estimated from the request (4 characters a token) plus "
    "`maxOutputTokens` or `llm.budget_output_tokens`; the budget itself is corrected from the "
    "usage the provider reports, this counter is not.",
    "llmix_budget_waits": "A call granted a turn up to `llm.max_inline_wait_s` away sleeps until "
    "it; `llmix_budget_wait_seconds_total` adds the seconds.",
    "llmix_budget_refusals": "Re-queued with the wait as countdown, spending no re-queue "
    "(like an open breaker).",
    "llmix_budget_fallbacks": "Each draw (granted or not) made while Redis is unreachable or in "
    "its cool-off: the process keeps to the budget divided by the live members it last saw.",
    "llmix_budget_shrinks": "Counted by the process that saw the 429; the budget is halved at "
    "most once a second and grows back over `llm.budget_recovery_s`.",
}
