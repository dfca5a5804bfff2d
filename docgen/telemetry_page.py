"""The metrics and spans reference, from the telemetry catalogues."""

from __future__ import annotations

from typing import Any

from docgen.markdown import BANNER, code, table


def render_telemetry() -> str:
    from prometheus_client import CollectorRegistry

    from llmix_workers.telemetry.catalogue import (
        DURATION_BUCKETS_S,
        LABEL_VALUES,
        NOTES,
        create_families,
    )
    from llmix_workers.telemetry.spans import SPANS

    registry = CollectorRegistry()
    families = create_families(registry)
    declared = {_name(metric): _labels(metric) for metric in vars(families).values()}
    rows = []
    for family in registry.collect():  # in the order create_families registers them
        name = family.name + ("_total" if family.type == "counter" else "")
        shown = []
        labels = declared[family.name]
        for label in labels:
            values = LABEL_VALUES.get((family.name, label))
            shown.append(
                code(label) + (f" ({', '.join(code(v) for v in values)})" if values else "")
            )
        meaning = family.documentation + (" " + NOTES[family.name] if family.name in NOTES else "")
        rows.append([code(name), family.type, ", ".join(shown), meaning])
    buckets = ", ".join(f"{bucket:g}" for bucket in DURATION_BUCKETS_S)
    span_rows = [[code(s.name), s.kind, s.where, s.attributes] for s in SPANS]
    parts = [
        "# Metrics and spans",
        "",
        BANNER,
        "",
        "Every metric a worker node exports on `/metrics`, and every span the package starts. "
        "[Watching the fleet](../guides/watching.md) shows how to scrape and read them; "
        "[Tracing](../guides/tracing.md) how to switch spans on.",
        "",
        "## Metrics",
        "",
        "Labels never hold a prompt, a key, a task id, a pid or an API key. `provider` is one of "
        "the providers the worker can call; `model` keeps its name for the first "
        "`telemetry.max_model_labels` models a process sees, later ones count as `other`.",
        "",
        table(["metric", "type", "labels", "meaning"], rows),
        "",
        f"Histogram buckets, in seconds: {buckets}.",
        "",
        "## Spans",
        "",
        "Spans are made only for sampled jobs. The key digest is the SHA-256 tail of the cache "
        "key, never the request; prompts and answers appear only with "
        "`telemetry.otel_record_content = true`, API keys never. A job's own span is Celery's "
        "`run/llmix.complete`, from the Celery instrumentation.",
        "",
        table(["span", "kind", "made for", "attributes"], span_rows),
    ]
    return "\n".join(parts).rstrip() + "\n"


def _name(metric: Any) -> str:
    return str(metric.describe()[0].name)


def _labels(metric: Any) -> tuple[str, ...]:
    """The label names a family was declared with. prometheus-client keeps them only in a
    private attribute (a family without samples shows none); the currency test compares the
    page with the hand-kept catalogue of tests/unit/telemetry/test_catalogue.py, so a change
    there fails loudly rather than dropping labels from the page."""
    names = getattr(metric, "_labelnames", None)
    if names is None:
        raise RuntimeError("prometheus-client no longer exposes _labelnames: update docgen")
    return tuple(names)
