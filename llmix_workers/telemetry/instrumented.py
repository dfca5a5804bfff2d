"""InstrumentedL2: counts failed L2 operations and traces them, around any L2 backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TypeVar

from opentelemetry import trace

from llmix_workers.cache.backend import L2Backend, Miss
from llmix_workers.errors import L2Unavailable
from llmix_workers.telemetry import tracing as t
from llmix_workers.telemetry.metrics import Metrics

_R = TypeVar("_R")


class InstrumentedL2:
    """An :class:`~llmix_workers.cache.backend.L2Backend` that wraps ``backend``.

    Every ``L2Unavailable`` from ``get``/``set``/``delete_entries`` adds one to
    ``llmix_l2_errors_total{operation}`` (``metrics`` may be ``None``) and is re-raised. When the
    current span is recording, each call runs in a client span (``llmix.l2.*``, Redis semantic
    conventions, the key's digest, never its payload); otherwise no span is started at all.
    Thread-safe when ``backend`` is.
    """

    def __init__(
        self, backend: L2Backend, metrics: Metrics | None, tracer: trace.Tracer | None = None
    ) -> None:
        self.backend = backend
        self.enabled = backend.enabled
        self._metrics = metrics
        self._tracer = tracer if tracer is not None else t.get_tracer()

    def get(self, key: str) -> bytes | Miss:
        if not trace.get_current_span().is_recording():
            return self._counted("get", self.backend.get, key)
        with self._span(t.SPAN_L2_GET, "GET", key) as span:
            payload = self._counted("get", self.backend.get, key)
            span.set_attribute(t.CACHE_HIT, bool(payload))
            return payload

    def get_many(self, keys: Sequence[str]) -> list[bytes | Miss]:
        if not trace.get_current_span().is_recording():
            return self._counted("get", self.backend.get_many, keys)
        with self._span(t.SPAN_L2_GET, "MGET", None) as span:
            found = self._counted("get", self.backend.get_many, keys)
            span.set_attribute("llmix.l2.keys", len(keys))
            return found

    def set(self, key: str, payload: bytes, ttl_s: int) -> None:
        if not trace.get_current_span().is_recording():
            return self._counted("set", self.backend.set, key, payload, ttl_s)
        with self._span(t.SPAN_L2_SET, "SET", key):
            return self._counted("set", self.backend.set, key, payload, ttl_s)

    def delete_entries(self, prefix: str, batch_size: int) -> int:
        if not trace.get_current_span().is_recording():
            return self._counted("delete", self.backend.delete_entries, prefix, batch_size)
        with self._span(t.SPAN_L2_DELETE_ENTRIES, "UNLINK", None) as span:
            deleted = self._counted("delete", self.backend.delete_entries, prefix, batch_size)
            span.set_attribute("llmix.l2.deleted", deleted)
            return deleted

    def count_entries(self, prefix: str) -> int:
        if not trace.get_current_span().is_recording():
            return self.backend.count_entries(prefix)
        with self._span(t.SPAN_L2_COUNT_ENTRIES, "SCAN", None):
            return self.backend.count_entries(prefix)

    def close(self) -> None:
        self.backend.close()

    def _counted(self, operation: str, call: Callable[..., _R], *args: object) -> _R:
        try:
            return call(*args)
        except L2Unavailable:
            if self._metrics is not None:
                self._metrics.l2_error(operation)
            raise

    def _span(self, name: str, command: str, key: str | None) -> AbstractContextManager[trace.Span]:
        attributes: t.Attributes = {t.DB_SYSTEM_NAME: "redis", t.DB_OPERATION_NAME: command}
        if key is not None:
            attributes[t.CACHE_KEY_DIGEST] = t.key_digest(key)
        return self._tracer.start_as_current_span(
            name, kind=trace.SpanKind.CLIENT, attributes=attributes
        )
