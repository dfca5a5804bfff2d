"""JobTelemetry: the :class:`~llmix_workers.jobs.observer.JobObserver` that feeds metrics and spans.

Counters are always updated (``metrics`` may be ``None``: no counters). Spans are started only
while the current span is recording (the job's Celery span was sampled): an unsampled job pays a
``is_recording()`` check per hook, never an SDK span, a context or an attribute dict.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import orjson
from opentelemetry import trace

from llmix_workers.errors import LLMError
from llmix_workers.jobs.observer import CallRecord, LookupRecord
from llmix_workers.llm.request import LLMRequest, LLMResult
from llmix_workers.telemetry import tracing as t
from llmix_workers.telemetry.lookup_span import LookupSpan
from llmix_workers.telemetry.metrics import Metrics
from llmix_workers.telemetry.status import status_class

_CACHE_OF_HIT = {"l1": "l1_hit", "l2": "l2_hit", None: "miss"}
_NO_USAGE: dict[str, Any] = {}


def _ignore(outcome: str) -> None:
    return None


class _Counted:
    """A lookup or call outside a recorded trace: counters only."""

    def __init__(self, metrics: Metrics | None) -> None:
        self._metrics = metrics
        #: Bound once: an unsampled lookup is one dict lookup and one increment.
        self.found: Callable[[str], None] = metrics.lookup if metrics is not None else _ignore

    def done(self, result: LLMResult) -> None:
        if self._metrics is not None:
            usage = result.usage
            self._metrics.tokens(
                result.provider, result.model, usage.input_tokens, usage.output_tokens
            )

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _Traced(_Counted):
    def __init__(self, metrics: Metrics | None, span: trace.Span, content: bool) -> None:
        super().__init__(metrics)
        self.span = span
        self.content = content

    def done(self, result: LLMResult) -> None:
        super().done(result)
        usage = result.usage
        attributes = t.llm_response_attributes(
            result.model, usage.input_tokens, usage.output_tokens
        )
        if self.content:
            answer = orjson.dumps([{"role": "assistant", "content": result.content}]).decode()
            attributes[t.GEN_AI_OUTPUT_MESSAGES] = answer
        self.span.set_attributes(attributes)


class JobTelemetry:
    """Metrics and spans for one process's jobs; thread-safe.

    Each hook checks once whether the current span records; only then does it build attributes
    and start spans (``tracer``, default the package's, looked up once here).
    """

    def __init__(
        self,
        metrics: Metrics | None,
        *,
        tracer: trace.Tracer | None = None,
        record_content: bool = False,
    ) -> None:
        self.metrics = metrics
        self._tracer = tracer if tracer is not None else t.get_tracer()
        self._record_content = record_content
        self._counted = _Counted(metrics)

    def lookup(self, key: str) -> AbstractContextManager[LookupRecord]:
        if not t.recording():
            return self._counted
        return LookupSpan(self._tracer, self._counted.found, key)

    def blocked_read(self) -> None:
        if self.metrics is not None:
            self.metrics.blocked_read()

    def waited(self, kind: str, took_over: bool = False) -> None:
        if self.metrics is None:
            return
        if took_over:
            self.metrics.lock_takeover()
        else:
            self.metrics.single_flight_wait(kind)

    def lock_wait(self, key: str) -> AbstractContextManager[Any]:
        if not t.recording():
            return nullcontext()
        return self._tracer.start_as_current_span(
            t.SPAN_FLEET_LOCK_WAIT, attributes={t.CACHE_KEY_DIGEST: t.key_digest(key)}
        )

    def provider_call(self, request: LLMRequest) -> AbstractContextManager[CallRecord]:
        return self._call(request)

    def stored(self, key: str) -> AbstractContextManager[Any]:
        if not t.recording():
            return nullcontext()
        return self._tracer.start_as_current_span(
            t.SPAN_CACHE_SET, attributes={t.CACHE_KEY_DIGEST: t.key_digest(key)}
        )

    def finished(
        self, request: LLMRequest, output: dict[str, Any] | None, duration_s: float
    ) -> None:
        metrics = self.metrics
        if metrics is None:
            return
        if output is None:
            metrics.completion(request.provider, request.model, "error", "miss", duration_s)
            return
        hit = output.get("cacheHit")
        if not hit and not output.get("coalesced"):
            metrics.completion(request.provider, request.model, "ok", "miss", duration_s)
            return
        usage = output.get("usage") or _NO_USAGE
        model = output.get("model") or request.model
        metrics.shared_completion(
            request.provider, request.model, _CACHE_OF_HIT.get(hit, "miss"), duration_s,
            model if model.__class__ is str else str(model),
            int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0)),
        )  # fmt: skip

    def requeued(self, request: LLMRequest) -> None:
        if self.metrics is not None:
            self.metrics.requeue(request.provider)

    @contextmanager
    def _call(self, request: LLMRequest) -> Iterator[CallRecord]:
        started = _now()
        try:
            if not t.recording():
                yield self._counted
                return
            attributes = t.llm_request_attributes(request.provider, request.model)
            if self._record_content:
                messages = orjson.dumps(request.messages, default=str).decode()
                attributes[t.GEN_AI_INPUT_MESSAGES] = messages
            with self._tracer.start_as_current_span(
                t.SPAN_LLM_CALL, kind=trace.SpanKind.CLIENT, attributes=attributes
            ) as span:
                yield _Traced(self.metrics, span, self._record_content)
        finally:
            if self.metrics is not None:
                self.metrics.llm_call(request.provider, request.model, _now() - started)


def _now() -> float:
    return time.perf_counter()


class ResilienceMetrics:
    """The :class:`~llmix_workers.llm.resilient.ResilienceObserver` that counts into ``metrics``."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def attempt_failed(self, provider: str, error: LLMError) -> None:
        self._metrics.llm_error(provider, status_class(error))

    def retrying(self, provider: str) -> None:
        self._metrics.retry(provider)

    def breaker_moved(self, provider: str, state: str) -> None:
        self._metrics.breaker_state(provider, state)
