"""The rendered settings.toml is what the worker loads, and changing it rolls the pods."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest

from llmix_workers.settings import Settings, load_settings
from tests.chart.support import container, find, render

GIVEN: dict[str, Any] = {
    "worker": {"pool": "prefork", "concurrency": 7, "queues": ["jobs-a", "jobs-b"],
               "taskTimeLimitS": 600, "taskSoftTimeLimitS": 550},
    "metrics": {"port": 9191, "multiprocDir": "/run/metrics"},
    "settings": {"cache": {"key_prefix": "llmix:resp:", "ttl_s": 120, "strategy": "redis"},
                 "fleet": {"sync_interval_s": 0.5, "lease_s": 2, "member_ttl_s": 4},
                 "llm": {"base_urls": {"vllm": "http://vllm:8000/v1"},
                         "budgets": {"openai": {"rpm": 500, "tpm": 200000},
                                     "openai/gpt-4o-mini": {"rpm": 5000}}}},
}  # fmt: skip


def pod_settings(
    objects: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings as the worker container loads them: the ConfigMap's file plus the plain
    environment the chart gives it (no secrets: those need the cluster's Secret)."""
    for name in [n for n in os.environ if n.upper().startswith("LLMIX_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("REDIS_URL", raising=False)
    config = find(objects, "ConfigMap", "demo-llmix-workers-settings")
    path = tmp_path / "settings.toml"
    path.write_text(config["data"]["settings.toml"])
    env = {e["name"]: e for e in container(objects)["env"]}
    assert env["LLMIX_SETTINGS"]["value"] == "/etc/llmix/settings.toml"
    for name, entry in env.items():
        if "value" in entry and name != "LLMIX_SETTINGS":
            monkeypatch.setenv(name, entry["value"])
    return load_settings(path)


def test_rendered_settings_carry_the_values_given(
    chart: helm.Chart, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = pod_settings(render(chart, GIVEN), tmp_path, monkeypatch)
    assert settings.worker.pool == "prefork"
    assert settings.worker.concurrency == 7
    assert settings.worker.queue == "jobs-a"
    assert settings.worker.task_time_limit_s == 600
    assert settings.cache.key_prefix == "llmix:resp:"
    assert settings.cache.ttl_s == 120
    assert settings.cache.strategy == "redis"
    assert settings.fleet.sync_interval_s == 0.5
    assert settings.llm.base_urls == {"vllm": "http://vllm:8000/v1"}
    budgets = {name: (b.rpm, b.tpm) for name, b in settings.llm.budgets.items()}
    assert budgets == {"openai": (500, 200000), "openai/gpt-4o-mini": (5000, None)}
    assert settings.telemetry.metrics_port == 9191
    assert settings.telemetry.metrics_host == "0.0.0.0"
    assert settings.telemetry.multiproc_dir == "/run/metrics"


def test_default_settings_load_with_the_metrics_port_on(
    chart: helm.Chart, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = pod_settings(render(chart), tmp_path, monkeypatch)
    assert settings.telemetry.metrics_port == 9808
    assert settings.worker.pool == "threads"
    assert settings.worker.concurrency == 16


def test_the_mount_the_settings_file_and_the_args_agree(chart: helm.Chart) -> None:
    objects = render(chart, GIVEN)
    worker = container(objects)
    mounts = {m["name"]: m["mountPath"] for m in worker["volumeMounts"]}
    assert mounts["config"] == "/etc/llmix"
    assert mounts["metrics"] == "/run/metrics"
    assert worker["args"] == [
        "--pool=prefork", "--concurrency=7", "--queues=jobs-a,jobs-b", "--loglevel=INFO",
    ]  # fmt: skip
    assert worker["ports"] == [{"name": "metrics", "containerPort": 9191, "protocol": "TCP"}]


def checksum(values: dict[str, Any], chart: helm.Chart) -> str:
    pod = find(render(chart, values), "Deployment")["spec"]["template"]
    value: str = pod["metadata"]["annotations"]["checksum/config"]
    return value


def test_config_checksum_changes_with_the_settings_only(chart: helm.Chart) -> None:
    base = checksum({}, chart)
    assert len(base) == 64
    assert checksum({}, chart) == base
    assert checksum({"replicas": 5}, chart) == base
    assert checksum({"settings": {"cache": {"ttl_s": 60}}}, chart) != base
    assert checksum({"worker": {"concurrency": 4}}, chart) != base
