"""InstrumentedL2: counts failed L2 operations and traces them, around any L2 backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from time import time_ns
from typing import TypeVar

from opentelemetry import trace

from llmix_workers.cache.backend import MISS, L2Backend, Miss
from llmix_workers.errors import L2Unavailable
from llmix_workers.telemetry import tracing as t
from llmix_workers.telemetry.lookup_span import pending
from llmix_workers.telemetry.metrics import Metrics

_R = TypeVar("_R")
_CLIENT = trace.SpanKind.CLIENT


class InstrumentedL2:
    """An :class:`~llmix_workers.cache.backend.L2Backend` that wraps ``backend``.

    Every ``L2Unavailable`` from ``get``/``set``/``delete_entries`` adds one to
    ``llmix_l2_errors_total{operation}`` (``metrics`` may be ``None``) and is re-raised. When the
    current span is recording, each call gets a client span (``llmix.l2.*``, Redis semantic
    conventions, the key's digest, never its payload); otherwise no span is started at all.
    The spans are leaves, so each is made once the call returned, with the call's start time
    and every attribute at once: no context is attached and no attribute set afterwards. Inside
    a sampled lookup the call is only noted, and the lookup makes its span as its own child
    (:mod:`~llmix_workers.telemetry.lookup_span`).
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
        lookup = pending()
        if lookup is None and not t.recording():
            return self._counted("get", self.backend.get, key)
        started = time_ns()
        payload = self._traced("get", t.SPAN_L2_GET, "GET", key, started, self.backend.get, key)
        attributes: t.Attributes = {
            t.DB_SYSTEM_NAME: "redis", t.DB_OPERATION_NAME: "GET",
            t.CACHE_KEY_DIGEST: t.key_digest(key), t.CACHE_HIT: payload is not MISS,
        }  # fmt: skip
        if lookup is not None:  # its span is made when the lookup ends, as the lookup's child
            lookup.child(t.SPAN_L2_GET, started, attributes)
        else:
            self._tracer.start_span(
                t.SPAN_L2_GET, kind=_CLIENT, attributes=attributes, start_time=started
            ).end()
        return payload

    def get_many(self, keys: Sequence[str]) -> list[bytes | Miss]:
        if not t.recording():
            return self._counted("get", self.backend.get_many, keys)
        started = time_ns()
        found = self._traced(
            "get", t.SPAN_L2_GET, "MGET", None, started, self.backend.get_many, keys
        )
        self._leaf(t.SPAN_L2_GET, "MGET", None, started, {"llmix.l2.keys": len(keys)})
        return found

    def set(self, key: str, payload: bytes, ttl_s: int) -> None:
        if not t.recording():
            return self._counted("set", self.backend.set, key, payload, ttl_s)
        started = time_ns()
        self._traced(
            "set", t.SPAN_L2_SET, "SET", key, started, self.backend.set, key, payload, ttl_s
        )
        self._leaf(t.SPAN_L2_SET, "SET", key, started)
        return None

    def delete_entries(self, prefix: str, batch_size: int) -> int:
        call = self.backend.delete_entries
        if not t.recording():
            return self._counted("delete", call, prefix, batch_size)
        started = time_ns()
        deleted = self._traced("delete", t.SPAN_L2_DELETE_ENTRIES, "UNLINK", None, started, call,
                               prefix, batch_size)  # fmt: skip
        self._leaf(t.SPAN_L2_DELETE_ENTRIES, "UNLINK", None, started, {"llmix.l2.deleted": deleted})
        return deleted

    def count_entries(self, prefix: str) -> int:
        if not t.recording():
            return self.backend.count_entries(prefix)
        started = time_ns()
        count = self._traced(None, t.SPAN_L2_COUNT_ENTRIES, "SCAN", None, started,
                             self.backend.count_entries, prefix)  # fmt: skip
        self._leaf(t.SPAN_L2_COUNT_ENTRIES, "SCAN", None, started)
        return count

    def close(self) -> None:
        self.backend.close()

    def _counted(self, operation: str, call: Callable[..., _R], *args: object) -> _R:
        try:
            return call(*args)
        except L2Unavailable:
            if self._metrics is not None:
                self._metrics.l2_error(operation)
            raise

    def _traced(
        self, operation: str | None, name: str, command: str, key: str | None, started: int,
        call: Callable[..., _R], *args: object,
    ) -> _R:  # fmt: skip
        """``call(*args)``; when it raises, its span is made here, marked as an error, and an
        ``L2Unavailable`` is counted under ``operation`` (``None``: not counted)."""
        try:
            return call(*args)
        except Exception as exc:
            if isinstance(exc, L2Unavailable) and operation and self._metrics is not None:
                self._metrics.l2_error(operation)
            lookup = pending()
            if lookup is not None:
                lookup.child(name, started, self._attributes(command, key), exc)
                raise
            span = self._start(name, command, key, started)
            t.mark_failed(span, exc)
            span.end()
            raise

    def _leaf(
        self, name: str, command: str, key: str | None, started: int,
        extra: t.Attributes | None = None,
    ) -> None:  # fmt: skip
        self._start(name, command, key, started, extra).end()

    def _start(
        self, name: str, command: str, key: str | None, started: int,
        extra: t.Attributes | None = None,
    ) -> trace.Span:  # fmt: skip
        attributes = self._attributes(command, key)
        if extra:
            attributes.update(extra)
        return self._tracer.start_span(
            name, kind=_CLIENT, attributes=attributes, start_time=started
        )

    @staticmethod
    def _attributes(command: str, key: str | None) -> t.Attributes:
        attributes: t.Attributes = {t.DB_SYSTEM_NAME: "redis", t.DB_OPERATION_NAME: command}
        if key is not None:
            attributes[t.CACHE_KEY_DIGEST] = t.key_digest(key)
        return attributes
