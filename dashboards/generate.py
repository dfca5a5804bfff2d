"""Build ``dashboards/llmix-workers.json`` with grafana-foundation-sdk.

Run ``python dashboards/generate.py`` (``make dashboards``) after editing this file and commit
both: ``tests/dashboards`` checks that the committed JSON is exactly what :func:`render` returns.
Every query filters on ``job=~"$job", instance=~"$instance"``; rates use ``$__rate_interval``.
The output is deterministic: sorted keys, panel ids numbered in order, layout computed by the SDK.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, statetimeline, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

OUTPUT = Path(__file__).with_name("llmix-workers.json")
UID = "llmix-workers"
SEL = 'job=~"$job", instance=~"$instance"'
RATE = "[$__rate_interval]"
HITS = 'outcome=~"l1_hit|l2_hit|producer_hit"'
MISS = 'outcome="miss"'
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
LOOKUPS = "llmix_cache_lookups_total"
JOB_LATENCY = "llmix_completion_duration_seconds"
QUANTILES = (("50", "0.5"), ("95", "0.95"), ("99", "0.99"))
HEALTHY = {"0": ("unhealthy", "red"), "1": ("healthy", "green")}
BREAKER = {"0": ("closed", "green"), "1": ("half-open", "yellow"), "2": ("open", "red")}

Panel = timeseries.Panel | stat.Panel | statetimeline.Panel


def q(expr: str, legend: str) -> prometheus.Dataquery:
    """A range query on the dashboard's Prometheus data source."""
    return prometheus.Dataquery().expr(expr).legend_format(legend).datasource(DATASOURCE)


def sel(metric: str, extra: str = "") -> str:
    """``metric{SEL[, extra]}``: the series of ``metric`` for the selected jobs and workers."""
    return f"{metric}{{{SEL}, {extra}}}" if extra else f"{metric}{{{SEL}}}"


def rate(metric: str, by: str = "", extra: str = "") -> str:
    """``sum [by (by)] (rate(metric{SEL[, extra]}[$__rate_interval]))``."""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(rate({sel(metric, extra)}{RATE}))"


def quantiles(metric: str, by: str, extra: str, label: str) -> list[prometheus.Dataquery]:
    """p50, p95 and p99 of a histogram, one query each, legend ``p<q> <label>``."""
    buckets = rate(f"{metric}_bucket", by=f"le{', ' + by if by else ''}", extra=extra)
    return [q(f"histogram_quantile({v}, {buckets})", f"p{p} {label}") for p, v in QUANTILES]


def lettered(queries: list[prometheus.Dataquery]) -> list[prometheus.Dataquery]:
    """The queries with Grafana's usual ref ids A, B, C... in order."""
    return [query.ref_id(chr(ord("A") + i)) for i, query in enumerate(queries)]


def series(title: str, unit: str, queries: list[prometheus.Dataquery], text: str) -> Panel:
    """A time series panel, 12 columns wide."""
    panel = timeseries.Panel().title(title).description(text).unit(unit).datasource(DATASOURCE)
    return panel.targets(list(lettered(queries))).span(12).height(8)


def single(title: str, unit: str, query: prometheus.Dataquery, text: str) -> Panel:
    """A stat panel, 6 columns wide."""
    panel = stat.Panel().title(title).description(text).unit(unit).datasource(DATASOURCE)
    return panel.targets(list(lettered([query]))).span(6).height(4)


def states(title: str, query: prometheus.Dataquery, names: dict[str, tuple[str, str]]) -> Panel:
    """A state timeline mapping each value to a name and colour."""
    options = {k: model.ValueMappingResult(text=t, color=c) for k, (t, c) in names.items()}
    panel = statetimeline.Panel().title(title).datasource(DATASOURCE)
    panel = panel.targets(list(lettered([query])))
    return panel.mappings([model.ValueMap(options=options)]).span(12).height(8)


def variable(name: str, label: str) -> db.QueryVariable:
    """A multi-value Prometheus label variable with All, read from the lookups counter."""
    scope = '{job=~"$job"}' if name == "instance" else ""
    query = f"label_values(llmix_cache_lookups_total{scope}, {name})"
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )


def overview() -> list[Panel]:
    misses = f"sum(increase({sel(LOOKUPS, MISS)}[$__range]))"
    lookups = f"sum(increase({sel(LOOKUPS)}[$__range]))"
    saved = f"sum(increase({sel('llmix_cost_saved_usd_total')}[$__range]))"
    return [
        single("Workers up", "short", q(f"sum({sel('up')})", "up"), "Scrape targets answering."),
        single(
            "Worker processes",
            "short",
            q(f"sum({sel('llmix_worker_processes')})", "processes"),
            "Live processes holding an L1 (1 per threads node, 1 per prefork child).",
        ),
        single(
            "Hit ratio (range)",
            "percentunit",
            q(f"1 - {misses} / {lookups}", "hit ratio"),
            "L1, L2 and producer hits over all lookups in the selected time range.",
        ),
        single(
            "Cost saved (range)",
            "currencyUSD",
            q(saved, "USD"),
            "USD not paid thanks to cache hits and shared calls (settings price table).",
        ),
    ]


def cache() -> list[Panel]:
    total = rate(LOOKUPS)
    by_tier = f"{rate(LOOKUPS, 'outcome', HITS)} / ignoring (outcome) group_left {total}"
    overall = f"1 - {rate(LOOKUPS, extra=MISS)} / {total}"
    clears = f"sum by (scope, result) (increase({sel('llmix_cache_clears_total')}{RATE}))"
    dropped = f"sum by (instance) (increase({sel('llmix_l1_dropped_entries_total')}{RATE}))"
    return [
        series(
            "Hit ratio by tier",
            "percentunit",
            [q(by_tier, "{{outcome}}"), q(overall, "overall")],
            "Share of lookups answered by L1, by L2, by a cache-first producer (from L2, counted "
            "by one worker), and by any of them.",
        ),
        states(
            "L2 health per worker",
            q(f"min by (instance) ({sel('llmix_l2_healthy')})", "{{instance}}"),
            HEALTHY,
        ),
        series(
            "Cache lookups",
            "ops",
            [q(rate(LOOKUPS, "outcome"), "{{outcome}}")],
            "Lookups per second by outcome.",
        ),
        series(
            "L2 errors and blocked reads",
            "ops",
            [
                q(rate("llmix_l2_errors_total", "operation"), "error {{operation}}"),
                q(rate("llmix_l2_blocked_reads_total"), "blocked read"),
            ],
            "Failed L2 operations, and L2 reads refused while a failed clear blocks L2.",
        ),
        series(
            "Clears by scope and result",
            "short",
            [q(clears, "{{scope}} {{result}}")],
            "Cache clears per interval; a failed or incomplete fleet clear needs a retry.",
        ),
        series(
            "Fleet generation",
            "none",
            [q(f"max by (instance) ({sel('llmix_fleet_generation')})", "{{instance}}")],
            "Fleet generation each worker has applied: all lines meet again after a clear.",
        ),
        series(
            "Fleet lease",
            "none",
            [q(f"min by (instance) ({sel('llmix_fleet_lease_valid')})", "{{instance}}")],
            "1 while every process of the worker holds a lease on the fleet state; 0 while one "
            "cannot reach the fleet's Redis and answers every job from the provider.",
        ),
        series(
            "L1 entries and drops",
            "short",
            [
                q(f"sum by (instance) ({sel('llmix_l1_entries')})", "entries {{instance}}"),
                q(dropped, "dropped {{instance}}"),
            ],
            "Entries held in L1, and entries dropped because the fleet generation moved.",
        ),
        series(
            "Single-flight waits and lock take-overs",
            "ops",
            [
                q(rate("llmix_single_flight_waits_total", "kind"), "wait {{kind}}"),
                q(rate("llmix_fleet_lock_takeovers_total"), "lock take-over"),
            ],
            "Jobs that waited for an identical in-flight call; fleet locks taken over.",
        ),
    ]


def completions() -> list[Panel]:
    by_model, by_class = "{{provider}} {{model}}", "{{provider}} {{status_class}}"
    return [
        series(
            "Completions by provider and model",
            "ops",
            [q(rate("llmix_completions_total", "provider, model", 'outcome="ok"'), by_model)],
            "Completion jobs finished successfully per second.",
        ),
        series(
            "Completion errors by provider and model",
            "ops",
            [q(rate("llmix_completions_total", "provider, model", 'outcome="error"'), by_model)],
            "Completion jobs that failed per second.",
        ),
        series(
            "Job latency, cached vs uncached",
            "s",
            quantiles(JOB_LATENCY, "", 'cache=~"l1_hit|l2_hit"', "cached")
            + quantiles(JOB_LATENCY, "", 'cache="miss"', "uncached"),
            "Job latency inside the worker: cache hits against misses that called a provider.",
        ),
        series(
            "Provider call latency",
            "s",
            quantiles("llmix_llm_call_duration_seconds", "provider", "", "{{provider}}"),
            "One provider HTTP call, all attempts included.",
        ),
        series(
            "Provider errors by status class",
            "ops",
            [q(rate("llmix_llm_errors_total", "provider, status_class"), by_class)],
            "Provider errors per second: 4xx, 429, 5xx, timeout, network, circuit_open.",
        ),
        series(
            "Retries and requeues",
            "ops",
            [
                q(rate("llmix_llm_retries_total", "provider"), "retry {{provider}}"),
                q(rate("llmix_requeues_total", "provider"), "requeue {{provider}}"),
            ],
            "Retries inside the worker; jobs re-queued with a countdown (long Retry-After).",
        ),
        states(
            "Circuit breaker state",
            q(f"max by (provider) ({sel('llmix_circuit_breaker_state')})", "{{provider}}"),
            BREAKER,
        ),
    ]


def savings() -> list[Panel]:
    return [
        series(
            "Tokens spent and saved",
            "short",
            [
                q(rate("llmix_tokens_total", "direction"), "spent {{direction}}"),
                q(rate("llmix_tokens_saved_total", "direction"), "saved {{direction}}"),
            ],
            "Tokens per second paid to providers, and tokens not paid thanks to the cache.",
        ),
        series(
            "Cost saved per hour",
            "currencyUSD",
            [q(f"3600 * {rate('llmix_cost_saved_usd_total', 'provider')}", "{{provider}}")],
            "USD per hour not paid thanks to cache hits and shared calls, by provider.",
        ),
    ]


def budgets() -> list[Panel]:
    by_budget = "{{budget}}"
    return [
        series(
            "Budget draws",
            "ops",
            [
                q(rate("llmix_budget_requests_total", "budget"), "granted {{budget}}"),
                q(rate("llmix_budget_waits_total", "budget"), "waited {{budget}}"),
                q(rate("llmix_budget_refusals_total", "budget"), "re-queued {{budget}}"),
            ],
            "Provider calls granted by each fleet-wide budget per second, those of them that "
            "waited for their turn first, and calls sent back to the queue because their turn "
            "was further than llm.max_inline_wait_s.",
        ),
        series(
            "Budget tokens drawn",
            "short",
            [q(rate("llmix_budget_tokens_total", "budget"), by_budget)],
            "Tokens per second drawn from each budget, as estimated before the call.",
        ),
        series(
            "Budget waits",
            "s",
            [
                q(
                    f"{rate('llmix_budget_wait_seconds_total', 'budget')}"
                    f" / {rate('llmix_budget_requests_total', 'budget')}",
                    "mean wait per call {{budget}}",
                ),
            ],
            "Mean seconds a granted call waited for its turn (0 for a call granted at once).",
        ),
        series(
            "Budget fallbacks and shrinks",
            "ops",
            [
                q(rate("llmix_budget_fallbacks_total", "budget"), "fallback {{budget}}"),
                q(rate("llmix_budget_shrinks_total", "budget"), "shrink {{budget}}"),
            ],
            "Draws decided from a process's own share while the fleet's Redis did not answer; "
            "429s that halved a budget for the whole fleet.",
        ),
    ]


def build() -> db.Dashboard:
    """The whole dashboard: variables, then one row per concern."""
    dash = (
        db.Dashboard("LLMix workers")
        .uid(UID)
        .tags(["llmix", "celery"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .editable()
        .with_variable(db.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(variable("job", "Job"))
        .with_variable(variable("instance", "Worker"))
    )
    panel_id = 0
    for make in (overview, cache, completions, savings, budgets):
        panel_id += 1
        dash = dash.with_row(db.Row(make.__name__.title()).id(panel_id))
        for panel in make():
            panel_id += 1
            dash = dash.with_panel(panel.id(panel_id))
    return dash


def render() -> str:
    """The dashboard JSON as committed: 2-space indent, sorted keys, trailing newline."""
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main() -> int:
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
