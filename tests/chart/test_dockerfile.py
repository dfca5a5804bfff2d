"""The worker Dockerfile, checked without a Docker engine: pinned base, non-root user, an
entrypoint the real CLI accepts, files that exist, and the chart's port and paths."""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from typing import Any

import click
import helm_python as helm
import pytest
import yaml
from click.testing import CliRunner

from tests.chart.support import CHART_DIR, REPO, all_on_values, container, pod_spec, render

PINNED_BASE = re.compile(r"^python:3\.11\.\d+-slim-bookworm$")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments out."""
    lines: list[str] = []
    pending = ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        pending += raw.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        lines.append(pending.strip())
        pending = ""
    parsed = [(line.split(None, 1) + [""])[:2] for line in lines]
    return [(word.upper(), rest.strip()) for word, rest in parsed]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in final_stage():
        if word == "ENV":
            for pair in rest.split():
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def console_script(name: str) -> click.Group:
    """The click group installed as the console script ``name`` (from pyproject.toml)."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attr = scripts[name].partition(":")
    group = getattr(importlib.import_module(module), attr)
    assert isinstance(group, click.Group), scripts[name]
    return group


def chart_defaults() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    return values


def test_every_stage_uses_the_pinned_slim_python_base() -> None:
    steps = instructions()
    args = dict(rest.split("=", 1) for word, rest in steps if word == "ARG" and "=" in rest)
    bases = [rest.split()[0] for word, rest in steps if word == "FROM"]
    assert len(bases) >= 2, "a build stage and a runtime stage"
    for base in bases:
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
        assert PINNED_BASE.match(resolved), resolved


def test_runs_as_the_numeric_non_root_user_the_chart_expects(chart: helm.Chart) -> None:
    users = [rest for word, rest in final_stage() if word == "USER"]
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0
    assert pod_spec(render(chart))["securityContext"]["runAsUser"] == int(uid)


def test_entrypoint_is_the_real_worker_command() -> None:
    entry = [json.loads(rest) for word, rest in final_stage() if word == "ENTRYPOINT"]
    assert entry == [["llmix-workers", "worker"]]
    result = CliRunner().invoke(console_script("llmix-workers"), ["worker", "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("kind", ["Deployment", "CronJob"])
def test_chart_arguments_parse_with_the_real_cli(chart: helm.Chart, kind: str) -> None:
    box = container(render(chart, {**all_on_values(), "cacheClear": {"timeoutS": 5}}), kind)
    words = box.get("command", ["llmix-workers", "worker"])[1:] + box["args"]
    assert box.get("command", ["llmix-workers"])[0] == "llmix-workers"
    command: click.Command = console_script("llmix-workers")
    while isinstance(command, click.Group):
        command = command.commands[words.pop(0)]
    context = command.make_context(command.name, list(words))
    given = {k: v for k, v in context.params.items() if v not in (None, False)}
    if kind == "Deployment":
        assert given == {"pool": "prefork", "concurrency": 4, "queues": "llmix,llmix-batch",
                         "loglevel": "DEBUG"}  # fmt: skip
    else:
        assert given == {"as_json": True, "timeout_s": 5.0}


def test_every_copied_source_exists_and_is_not_docker_ignored() -> None:
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    for word, rest in instructions():
        if word != "COPY" or "--from" in rest:
            continue
        *sources, _destination = rest.split()
        for source in sources:
            assert (REPO / source).exists(), source
            assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"


def test_port_and_writable_paths_match_the_chart() -> None:
    defaults = chart_defaults()
    exposed = [int(rest.split("/")[0]) for word, rest in final_stage() if word == "EXPOSE"]
    assert exposed == [defaults["metrics"]["port"]]
    env = image_env()
    assert int(env["LLMIX_TELEMETRY__METRICS_PORT"]) == defaults["metrics"]["port"]
    assert env["LLMIX_TELEMETRY__MULTIPROC_DIR"] == defaults["metrics"]["multiprocDir"]
    assert env["TMPDIR"] == "/tmp"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
