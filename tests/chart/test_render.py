"""The chart lints clean and every object it renders is valid for Kubernetes 1.30 or its CRD."""

from __future__ import annotations

import copy
from typing import Any

import helm_python as helm
import pytest

from tests.chart import schemas
from tests.chart.support import (
    CHART_DIR,
    K8S_VERSION,
    all_on_values,
    find,
    kinds,
    render,
)

DEFAULT_KINDS = {"ConfigMap", "CronJob", "Deployment", "PodDisruptionBudget", "Service",
                 "ServiceAccount"}  # fmt: skip
ALL_ON_KINDS = DEFAULT_KINDS | {"NetworkPolicy", "PrometheusRule", "ScaledObject",
                                "ServiceMonitor", "TriggerAuthentication"}  # fmt: skip


def with_hpa() -> dict[str, Any]:
    values = all_on_values()
    values["autoscaling"]["keda"]["enabled"] = False
    values["autoscaling"]["hpa"] = {"enabled": True, "minReplicas": 2, "maxReplicas": 8}
    return values


@pytest.mark.parametrize(
    "values", [None, all_on_values(), with_hpa()], ids=["default", "all-on", "hpa"]
)
def test_lint_is_clean(values: dict[str, Any] | None) -> None:
    report = helm.lint(CHART_DIR, values, strict=True, kube_version=f"v{K8S_VERSION}.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["total_charts_linted"] == 1
    assert problems == [] and report["errors"] == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [(None, DEFAULT_KINDS), (all_on_values(), ALL_ON_KINDS),
     (with_hpa(), ALL_ON_KINDS - {"ScaledObject", "TriggerAuthentication"} | {"HorizontalPodAutoscaler"})],
    ids=["default", "all-on", "hpa"],
)  # fmt: skip
def test_every_object_validates(
    chart: helm.Chart, values: dict[str, Any] | None, expected: set[str]
) -> None:
    objects = render(chart, values)
    assert kinds(objects) == expected
    for obj in objects:
        schemas.validate(obj)


def test_validators_refuse_unknown_fields(chart: helm.Chart) -> None:
    objects = render(chart, all_on_values())
    for kind in ("Deployment", "ServiceMonitor", "ScaledObject"):
        broken = copy.deepcopy(find(objects, kind))
        broken["spec"]["surprise"] = True
        with pytest.raises(Exception, match="surprise"):
            schemas.validate(broken)


def test_autoscaled_deployment_leaves_replicas_to_the_autoscaler(chart: helm.Chart) -> None:
    assert find(render(chart), "Deployment")["spec"]["replicas"] == 2
    assert "replicas" not in find(render(chart, with_hpa()), "Deployment")["spec"]
    assert "replicas" not in find(render(chart, all_on_values()), "Deployment")["spec"]
    hpa = find(render(chart, with_hpa()), "HorizontalPodAutoscaler")["spec"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 8)


def test_hpa_and_keda_together_are_refused(chart: helm.Chart) -> None:
    values = with_hpa()
    values["autoscaling"]["keda"]["enabled"] = True
    with pytest.raises(helm.HelmRenderError, match="exclude each other"):
        render(chart, values)


def test_keda_scales_on_every_queue_list_with_credentials_from_the_secret(
    chart: helm.Chart,
) -> None:
    objects = render(chart, all_on_values())
    scaled = find(objects, "ScaledObject")["spec"]
    auth = find(objects, "TriggerAuthentication")
    assert scaled["scaleTargetRef"]["name"] == find(objects, "Deployment")["metadata"]["name"]
    assert [t["metadata"]["listName"] for t in scaled["triggers"]] == ["llmix", "llmix-batch"]
    assert {t["type"] for t in scaled["triggers"]} == {"redis"}
    assert {t["authenticationRef"]["name"] for t in scaled["triggers"]} == {
        auth["metadata"]["name"]
    }
    refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    assert refs == {
        "address": ("llmix-workers", "redis-address"),
        "password": ("llmix-workers", "redis-password"),
    }
