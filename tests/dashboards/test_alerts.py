"""Alert rules pass the real promtool: syntax check and unit tests, each alert firing and not."""

from __future__ import annotations

import subprocess

import yaml

from llmix_workers.testing.promql import alert_queries
from tests.dashboards.conftest import ALERT_TESTS, ALERTS, DASHBOARDS

ALERTS_EXPECTED = {
    "LlmixL2Unhealthy",
    "LlmixCacheHitRatioLow",
    "LlmixCacheHitRatioDropped",
    "LlmixProviderErrorRate",
    "LlmixCircuitBreakerOpen",
    "LlmixWorkerWithoutLease",
    "LlmixBudgetWaitsDominate",
    "LlmixNoWorkerUp",
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=DASHBOARDS, capture_output=True, text=True, timeout=60)


def test_promtool_check_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", ALERTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS_EXPECTED)} rules found" in result.stdout


def test_promtool_test_rules(promtool: str) -> None:
    result = run(promtool, "test", "rules", ALERT_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "FAILED" not in result.stdout


def test_rules_group_labels_and_annotations() -> None:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    assert [g["name"] for g in groups] == ["llmix-workers"]
    rules = groups[0]["rules"]
    assert {r["alert"] for r in rules} == ALERTS_EXPECTED
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    cases = [
        (case["alertname"], bool(case["exp_alerts"]))
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    for name, _ in alert_queries(ALERTS):
        assert (name, True) in cases, f"{name} is never tested firing"
        assert (name, False) in cases, f"{name} is never tested not firing"
