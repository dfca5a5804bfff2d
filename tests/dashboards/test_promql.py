"""Template substitution and metric-name extraction used by the Prometheus checks."""

from __future__ import annotations

import pytest

from llmix_workers.testing.promql import metric_names, substitute


def test_substitute_replaces_grafana_variables() -> None:
    expr = 'rate(x{job=~"$job", instance=~"${instance}"}[$__rate_interval]) * $__range_s'
    assert substitute(expr, job="llmix-workers") == (
        'rate(x{job=~"llmix-workers", instance=~".*"}[1m]) * 300'
    )
    assert substitute("increase(x[$__range])", range_="1h") == "increase(x[1h])"
    assert substitute("$__interval_ms") == "15000"


def test_substitute_refuses_unknown_variables() -> None:
    with pytest.raises(ValueError, match=r"\$cluster"):
        substitute('x{cluster="$cluster"}')


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("sum(rate(llmix_cache_lookups_total[1m]))", {"llmix_cache_lookups_total"}),
        (
            "histogram_quantile(0.9, sum by (le) (rate(llmix_llm_call_duration_seconds_bucket[5m])))",
            {"llmix_llm_call_duration_seconds"},
        ),
        (
            "llmix_completion_duration_seconds_sum / llmix_completion_duration_seconds_count",
            {"llmix_completion_duration_seconds"},
        ),
        ('up{job="llmix_workers_total"} + llmix_l2_healthy', {"llmix_l2_healthy"}),
        ("llmix:hit_ratio:rate5m + other_llmix_x", set()),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
