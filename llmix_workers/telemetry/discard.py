"""DiscardExporter: spans are made, sampled and batched as with any exporter, then dropped.

``telemetry.otel_exporter = "none"`` (the meaning of ``OTEL_TRACES_EXPORTER=none``): the whole
tracing cost stays in the process except serialising and sending, which is how the telemetry
benchmark measures overhead. Imports the SDK: load it only when tracing is on.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class DiscardExporter(SpanExporter):
    """Accepts every batch and keeps nothing; counts the spans it was handed."""

    def __init__(self) -> None:
        self.discarded = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.discarded += len(spans)
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
