"""Render ``helm/llmix-workers`` with the real Helm library and look into what it produced.

Every helper renders offline (no cluster): release ``RELEASE`` in namespace ``NAMESPACE``.
Missing test dependencies fail the import with what to install, never a skip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

try:
    import helm_python as helm
    import yaml
except ImportError as exc:  # the message is the point: it says what to install
    raise ImportError(
        f"tests/chart need helm-python-sdk and pyyaml ({exc.name} is missing): "
        "pip install -e '.[test]'"
    ) from exc

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "helm" / "llmix-workers"
DASHBOARDS = REPO / "dashboards"
ALL_ON_VALUES = CHART_DIR / "ci" / "all-on-values.yaml"
RELEASE = "demo"
NAMESPACE = "llmix"
FULLNAME = f"{RELEASE}-llmix-workers"
K8S_VERSION = "1.30"

Manifest = dict[str, Any]


def load_chart() -> helm.Chart:
    """The chart loaded by Helm's own loader (which follows the ``dashboards`` symlink).

    Raises:
        AssertionError: the repository has no ``dashboards/`` for the chart's link to reach.
    """
    assert DASHBOARDS.is_dir(), f"{DASHBOARDS} is missing: the chart takes its dashboards there"
    return helm.Chart.load(CHART_DIR)


def all_on_values() -> dict[str, Any]:
    """``ci/all-on-values.yaml``: every switch of the chart turned on."""
    values: dict[str, Any] = yaml.safe_load(ALL_ON_VALUES.read_text())
    return values


def render(chart: helm.Chart, values: dict[str, Any] | None = None) -> list[Manifest]:
    """Every object the chart renders with ``values`` over its defaults, NOTES.txt left out.

    Raises:
        helm_python.HelmValuesError: the values break ``values.schema.json``.
        helm_python.HelmRenderError: a template failed (including the chart's own ``fail``).
    """
    rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    objects: list[Manifest] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def notes(chart: helm.Chart, values: dict[str, Any] | None = None) -> str:
    """The rendered NOTES.txt."""
    rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))


def find(objects: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    """The one object of ``kind`` (and ``name`` when given).

    Raises:
        AssertionError: none or several match.
    """
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def kinds(objects: list[Manifest]) -> set[str]:
    return {o["kind"] for o in objects}


def container(objects: list[Manifest], kind: str = "Deployment") -> dict[str, Any]:
    """The single container of the worker Deployment (or of the cache-clear CronJob)."""
    spec = find(objects, kind)["spec"]
    pod = spec["jobTemplate"]["spec"]["template"] if kind == "CronJob" else spec["template"]
    containers: list[dict[str, Any]] = pod["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def pod_spec(objects: list[Manifest], kind: str = "Deployment") -> dict[str, Any]:
    spec = find(objects, kind)["spec"]
    pod = spec["jobTemplate"]["spec"]["template"] if kind == "CronJob" else spec["template"]
    result: dict[str, Any] = pod["spec"]
    return result
