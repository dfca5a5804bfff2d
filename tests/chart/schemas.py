"""Validate rendered objects: Kubernetes kinds against the schemas ``kubernetes-validate`` ships
(strict: unknown fields refused), Prometheus Operator and KEDA kinds against models generated
from their CRDs' OpenAPI schemas (``cloudcoil-models-prometheus-operator`` 0.80,
``cloudcoil-models-keda`` 2.16, from PyPI).

The CRD models are pydantic classes that ignore unknown fields, so an object is also dumped
back and compared: a field the CRD does not know (or a value coerced to another type) shows up
as a difference.
"""

from __future__ import annotations

from typing import Any

try:
    import kubernetes_validate  # type: ignore[import-untyped]
    from cloudcoil.models.keda import v1alpha1 as keda
    from cloudcoil.models.prometheus_operator import v1 as monitoring
    from pydantic import BaseModel
except ImportError as exc:  # the message is the point: it says what to install
    raise ImportError(
        f"tests/chart need kubernetes-validate, cloudcoil-models-prometheus-operator and "
        f"cloudcoil-models-keda ({exc.name} is missing): pip install -e '.[test]'"
    ) from exc

from tests.chart.support import K8S_VERSION, Manifest

CRD_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): monitoring.ServiceMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): monitoring.PrometheusRule,
    ("keda.sh/v1alpha1", "ScaledObject"): keda.ScaledObject,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): keda.TriggerAuthentication,
}


def validate(obj: Manifest) -> None:
    """Check one rendered object against the schema of its kind.

    Raises:
        kubernetes_validate.ValidationError: a Kubernetes kind breaks the API schema.
        pydantic.ValidationError: a CRD kind has a field of the wrong type or a missing one.
        AssertionError: a CRD kind carries fields its CRD does not define.
    """
    model = CRD_MODELS.get((obj["apiVersion"], obj["kind"]))
    if model is None:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        return
    parsed = model.model_validate(obj)
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped == obj, f"{obj['kind']} has fields its CRD does not define:\n{_diff(obj, dumped)}"


def _diff(given: Any, known: Any, path: str = "") -> str:
    if isinstance(given, dict) and isinstance(known, dict):
        return "".join(_diff(v, known.get(k, "<unknown>"), f"{path}.{k}") for k, v in given.items())
    if isinstance(given, list) and isinstance(known, list) and len(given) == len(known):
        return "".join(
            _diff(g, k, f"{path}[{i}]") for i, (g, k) in enumerate(zip(given, known, strict=True))
        )
    return "" if given == known else f"  {path}: {given!r} -> {known!r}\n"
