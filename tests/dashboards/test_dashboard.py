"""The committed dashboard is the generated one, filters on $job/$instance, and uses the catalogue."""

from __future__ import annotations

import importlib.util
import json
import re
from typing import Any

from llmix_workers.testing.promql import alert_queries, dashboard_queries, metric_names
from tests.dashboards.catalogue import CATALOGUE
from tests.dashboards.conftest import ALERTS, DASHBOARD_JSON, DASHBOARDS

SEL = 'job=~"$job", instance=~"$instance"'


def generated() -> str:
    spec = importlib.util.spec_from_file_location("llmix_dashboard", DASHBOARDS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text: str = module.render()
    return text


def raw_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD_JSON.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_committed_json_is_what_generate_py_produces() -> None:
    assert DASHBOARD_JSON.read_text() == generated(), "run `make dashboards` and commit"


def test_generation_is_deterministic() -> None:
    assert generated() == generated()


def test_variables_datasource_job_instance() -> None:
    dashboard = json.loads(DASHBOARD_JSON.read_text())
    variables: dict[str, dict[str, Any]] = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("job", "instance"):
        assert variables[name]["multi"] is True and variables[name]["includeAll"] is True
        assert f", {name})" in variables[name]["query"]
        assert variables[name]["datasource"]["uid"] == "${datasource}"


def test_panel_ids_unique_and_every_target_has_a_ref_id() -> None:
    panels = json.loads(DASHBOARD_JSON.read_text())["panels"]
    ids = [p["id"] for p in panels]
    assert ids == list(range(1, len(panels) + 1))
    for panel in panels:
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert all(refs) and len(set(refs)) == len(refs), panel["title"]


def test_every_selector_filters_on_job_and_instance() -> None:
    exprs = raw_exprs()
    assert len(exprs) >= 30
    for expr in exprs:
        selectors = re.findall(r"\b(up|llmix_\w+)(\{[^}]*\})?", expr)
        assert selectors, expr
        for name, matchers in selectors:
            assert SEL in matchers, f"{name} in {expr} does not filter on $job and $instance"


def test_dashboard_shows_every_catalogue_metric_and_nothing_else() -> None:
    used = set().union(*(metric_names(expr) for _, expr in dashboard_queries(DASHBOARD_JSON)))
    assert used == set(CATALOGUE)


def test_alerts_use_only_catalogue_metrics() -> None:
    used = set().union(*(metric_names(expr) for _, expr in alert_queries(ALERTS)))
    assert used
    assert used <= set(CATALOGUE), used - set(CATALOGUE)
