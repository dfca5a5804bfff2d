"""The metric catalogue as the code exports it: family name -> (type, label values to export).

Read from :mod:`llmix_workers.telemetry.catalogue` (registered in a private registry), so a
dashboard or alert query naming a metric the code does not export fails the dashboard tests.
Counters carry ``_total`` as they do on ``/metrics``. Label values are the catalogue's fixed
sets; ``provider`` and ``model`` are examples. A label this table does not know raises
``KeyError`` at import: give it values here.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from prometheus_client import CollectorRegistry

from llmix_workers.telemetry import catalogue as c

PROVIDER: Final = ("openai", "anthropic")
MODEL: Final = ("gpt-4o-mini",)

_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "operation": c.L2_OPERATIONS,
    "scope": c.CLEAR_SCOPES,
    "result": c.CLEAR_RESULTS,
    "kind": c.WAIT_KINDS,
    "cache": c.JOB_CACHE,
    "status_class": c.STATUS_CLASSES,
    "direction": c.DIRECTIONS,
    "provider": PROVIDER,
    "model": MODEL,
    "budget": ("openai", "openai/gpt-4o-mini"),
}
#: ``outcome`` means a lookup's outcome on one family and a job's on the other.
_OUTCOMES: Final = {
    "llmix_cache_lookups_total": c.LOOKUP_OUTCOMES,
    "llmix_completions_total": c.COMPLETION_OUTCOMES,
}


def _exported() -> dict[str, tuple[str, dict[str, tuple[str, ...]]]]:
    families = c.create_families(CollectorRegistry())
    table: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {}
    for field in dataclasses.fields(families):
        metric = getattr(families, field.name)
        [described] = metric.describe()
        kind = described.type
        name = f"{described.name}_total" if kind == "counter" else described.name
        labels = {
            label: _OUTCOMES[name] if label == "outcome" else _VALUES[label]
            for label in metric._labelnames
        }
        table[name] = (kind, labels)
    return table


CATALOGUE: Final = _exported()
BUCKETS_S: Final = c.DURATION_BUCKETS_S
