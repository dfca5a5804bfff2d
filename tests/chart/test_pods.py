"""Worker and cache-clear pods: hardened, secrets by reference only, probes, warm shutdown."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.chart.support import all_on_values, container, find, notes, pod_spec, render

SECRET_ENV = {
    "LLMIX_REDIS__URL": "redis-url",
    "LLMIX_WORKER__BROKER_URL": "broker-url",
    "LLMIX_WORKER__RESULT_BACKEND": "result-backend",
    "LLMIX_FLEET__REDIS_URL": "fleet-redis-url",
    "OPENAI_API_KEY": "openai-api-key",
    "ANTHROPIC_API_KEY": "anthropic-api-key",
}
PLAIN_ENV = {"LLMIX_SETTINGS", "LLMIX_TELEMETRY__METRICS_PORT", "LLMIX_TELEMETRY__MULTIPROC_DIR",
             "TMPDIR"}  # fmt: skip


@pytest.mark.parametrize("kind", ["Deployment", "CronJob"])
def test_pods_run_non_root_read_only_without_capabilities(chart: helm.Chart, kind: str) -> None:
    objects = render(chart, all_on_values())
    pod, box = pod_spec(objects, kind), container(objects, kind)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    context = box["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in box["volumeMounts"]}
    assert "emptyDir" in volumes["tmp"] and mounts["tmp"] == "/tmp"
    assert "emptyDir" in volumes["metrics"] and mounts["metrics"] == "/run/llmix/metrics"


@pytest.mark.parametrize("kind", ["Deployment", "CronJob"])
def test_secrets_come_from_the_existing_secret_only(chart: helm.Chart, kind: str) -> None:
    env = container(render(chart, all_on_values()), kind)["env"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e}
    assert {name: ref["key"] for name, ref in refs.items()} == SECRET_ENV
    assert {ref["name"] for ref in refs.values()} == {"llmix-workers"}
    assert {e["name"] for e in env if "value" in e} == PLAIN_ENV


def test_optional_secret_keys_are_left_out_when_empty(chart: helm.Chart) -> None:
    env = container(render(chart))["env"]
    assert [e["name"] for e in env if "valueFrom" in e] == ["LLMIX_REDIS__URL"]


def test_probes_hit_health_endpoints_on_the_metrics_port(chart: helm.Chart) -> None:
    worker = container(render(chart))
    assert worker["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    service = find(render(chart), "Service")["spec"]["ports"]
    assert service == [
        {"name": "metrics", "port": 9808, "targetPort": "metrics", "protocol": "TCP"}
    ]


@pytest.mark.parametrize(
    ("values", "grace_s"),
    [({}, 330), ({"worker": {"taskTimeLimitS": 900}}, 930),
     ({"terminationGracePeriodSeconds": 400}, 400)],
)  # fmt: skip
def test_grace_period_outlasts_the_task_time_limit(
    chart: helm.Chart, values: dict[str, Any], grace_s: int
) -> None:
    assert pod_spec(render(chart, values))["terminationGracePeriodSeconds"] == grace_s


def test_grace_period_below_the_task_limit_is_refused(chart: helm.Chart) -> None:
    with pytest.raises(helm.HelmRenderError, match="must exceed worker.taskTimeLimitS"):
        render(chart, {"terminationGracePeriodSeconds": 60})


def test_cache_clear_cronjob_is_suspended_and_runs_the_clear(chart: helm.Chart) -> None:
    objects = render(chart, {"cacheClear": {"timeoutS": 20}})
    cron = find(objects, "CronJob")
    assert cron["spec"]["suspend"] is True
    job = container(objects, "CronJob")
    assert job["command"] + job["args"] == [
        "llmix-workers",
        "cache",
        "clear",
        "--json",
        "--timeout=20",
    ]
    assert pod_spec(objects, "CronJob")["restartPolicy"] == "Never"
    line = f"create job --from=cronjob/{cron['metadata']['name']} "
    assert line in notes(chart)
    assert "CronJob" not in {o["kind"] for o in render(chart, {"cacheClear": {"enabled": False}})}
