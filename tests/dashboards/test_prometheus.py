"""Every dashboard and alert expression returns data from a real Prometheus scraping a real exporter.

The exporter (tests/dashboards/exporter.py) exports every catalogue metric and plays a fleet in
trouble, so the alert expressions hold too. The lead reuses PrivatePrometheus and
dashboard_queries to run the same check against real workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmix_workers.errors import ConfigError
from llmix_workers.testing import prometheus as prometheus_module
from llmix_workers.testing.prometheus import (
    PrivatePrometheus,
    PrometheusError,
    alert_queries,
    dashboard_queries,
)
from tests.dashboards.conftest import ALERTS, DASHBOARD_JSON
from tests.dashboards.exporter import CatalogueExporter

JOB = "llmix-workers"

# Expressions that are empty by nature on a healthy, freshly started Prometheus.
MAY_BE_EMPTY = {
    "LlmixNoWorkerUp": "absent(): empty while a worker is up, which the exporter is",
    "LlmixCacheHitRatioDropped": "compares with an hour ago (offset 1h); a fresh server has no past",
}


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrivatePrometheus]:
    exporter = CatalogueExporter()
    target = exporter.start()
    try:
        server = PrivatePrometheus([target], job=JOB, rule_files=[ALERTS])
    except ConfigError as exc:
        exporter.close()
        pytest.fail(str(exc))
    try:
        server.start()
        server.wait_for_targets_up()
        server.wait_for_scrapes(4)
        yield server
    finally:
        server.close()
        exporter.close()


def test_harness_scrapes_the_exporter_under_the_job(prometheus: PrivatePrometheus) -> None:
    up = prometheus.query("up")
    assert [(s["metric"]["job"], s["value"][1]) for s in up] == [(JOB, "1")]
    lookups = prometheus.query('sum by (outcome) (llmix_cache_lookups_total{job="llmix-workers"})')
    assert {s["metric"]["outcome"] for s in lookups} == {"l1_hit", "l2_hit", "miss", "producer_hit"}


@pytest.mark.parametrize("variables", [{}, {"job": JOB}], ids=["all", "job"])
def test_every_dashboard_query_returns_data(
    prometheus: PrivatePrometheus, variables: dict[str, str]
) -> None:
    queries = dashboard_queries(DASHBOARD_JSON, **variables)
    empty = [(title, expr) for title, expr in queries if not prometheus.query(expr)]
    assert not empty, "\n".join(f"{title}: {expr}" for title, expr in empty)


def test_every_alert_expression_returns_data(prometheus: PrivatePrometheus) -> None:
    queries = alert_queries(ALERTS)
    assert MAY_BE_EMPTY.keys() <= {name for name, _ in queries}
    empty = [
        name for name, expr in queries if name not in MAY_BE_EMPTY and not prometheus.query(expr)
    ]
    assert not empty


def test_rules_load_and_alerts_go_pending(prometheus: PrivatePrometheus) -> None:
    rules = [rule for group in prometheus.rules() for rule in group["rules"]]
    assert {r["name"]: r["health"] for r in rules} == {n: "ok" for n, _ in alert_queries(ALERTS)}
    active = {r["name"] for r in rules if r["state"] in ("pending", "firing")}
    assert active == {n for n, _ in alert_queries(ALERTS)} - MAY_BE_EMPTY.keys()


def test_missing_binary_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMIX_PROMETHEUS", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(prometheus_module, "DEBIAN_BINARY", "/nonexistent/prometheus")
    with pytest.raises(ConfigError, match="apt-get install prometheus"):
        PrivatePrometheus(["127.0.0.1:1"])


def test_a_server_that_exits_at_start_reports_its_log(tmp_path: Path) -> None:
    broken = tmp_path / "broken-rules.yml"
    broken.write_text("groups: [{name: x, rules: [{alert: A, expr: 'sum('}]}]\n")
    server = PrivatePrometheus(["127.0.0.1:1"], rule_files=[broken])
    try:
        with pytest.raises(PrometheusError, match="(?s)exited before ready.*broken-rules.yml"):
            server.start()
    finally:
        server.close()


def test_query_errors_raise(prometheus: PrivatePrometheus) -> None:
    with pytest.raises(PrometheusError, match="bad_data"):
        prometheus.query("sum(")
