"""The chart ships exactly the repository's dashboards/ (through a symlink, never copies)."""

from __future__ import annotations

import os
from pathlib import Path

import helm_python as helm
import yaml

from tests.chart.support import CHART_DIR, DASHBOARDS, find, render

MONITORING_ON = {"metrics": {"prometheusRule": {"enabled": True}, "dashboards": {"enabled": True}}}


def test_chart_dashboards_is_a_relative_link_to_the_repository_folder() -> None:
    link = CHART_DIR / "dashboards"
    assert link.is_symlink()
    assert os.readlink(link) == "../../dashboards"
    assert link.resolve() == DASHBOARDS.resolve()


def test_prometheus_rule_holds_exactly_the_groups_of_alerts_yml(chart: helm.Chart) -> None:
    rule = find(render(chart, MONITORING_ON), "PrometheusRule")
    expected = yaml.safe_load((DASHBOARDS / "alerts.yml").read_text())
    assert rule["spec"] == {"groups": expected["groups"]}
    assert rule["spec"]["groups"], "dashboards/alerts.yml has no groups"


def test_dashboard_configmap_holds_every_json_file_byte_for_byte(chart: helm.Chart) -> None:
    config = find(render(chart, MONITORING_ON), "ConfigMap", "demo-llmix-workers-dashboards")
    assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
    files = {path.name: path.read_bytes() for path in sorted(DASHBOARDS.glob("*.json"))}
    assert files, "dashboards/ has no *.json"
    assert {name: text.encode() for name, text in config["data"].items()} == files


def test_monitoring_objects_are_off_by_default(chart: helm.Chart) -> None:
    kinds = {o["kind"] for o in render(chart)}
    names = {o["metadata"]["name"] for o in render(chart)}
    assert not {"PrometheusRule", "ServiceMonitor"} & kinds
    assert "demo-llmix-workers-dashboards" not in names


def test_packaged_chart_carries_the_dashboard_contents(tmp_path: Path) -> None:
    archive = helm.package(CHART_DIR, destination=tmp_path)
    with helm.Chart.load_archive(Path(archive).read_bytes()) as packaged:
        files = {f["name"]: f["data"] for f in packaged.files}
    shipped = [*DASHBOARDS.glob("*.json"), DASHBOARDS / "alerts.yml"]
    for path in shipped:
        assert files[f"dashboards/{path.name}"].encode() == path.read_bytes()
    assert sorted(n for n in files if n.startswith("dashboards/")) == sorted(
        f"dashboards/{path.name}" for path in shipped
    )
    assert not any(name.startswith("ci/") for name in files)
