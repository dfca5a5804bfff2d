"""Span names, attribute keys and the per-process OpenTelemetry SDK setup.

Names follow the OTel GenAI and Redis semantic conventions where they exist. Attributes carry
a cache key's digest, never a prompt, completion or API key, unless ``otel_record_content``.
This module needs only ``opentelemetry-api``; :func:`setup_tracing` imports the SDK, the
OTLP/HTTP exporter and the Celery instrumentation (the ``[otel]`` extra) when tracing is on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import trace
from opentelemetry.context import Context, get_current
from opentelemetry.util.types import AttributeValue

from llmix_workers.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from llmix_workers.settings import TelemetrySettings

TRACER_NAME: Final = "llmix_workers"

SPAN_CACHE_GET: Final = "llmix.cache.get"
SPAN_CACHE_SET: Final = "llmix.cache.set"
SPAN_CACHE_CLEAR: Final = "llmix.cache.clear"
SPAN_L2_GET: Final = "llmix.l2.get"
SPAN_L2_SET: Final = "llmix.l2.set"
SPAN_L2_DELETE_ENTRIES: Final = "llmix.l2.delete_entries"
SPAN_L2_COUNT_ENTRIES: Final = "llmix.l2.count_entries"
SPAN_FLEET_LOCK_WAIT: Final = "llmix.fleet.lock_wait"
SPAN_LLM_CALL: Final = "llmix.llm.call"

GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
#: The pre-1.37 name of ``gen_ai.provider.name``, set too for older backends and dashboards.
GEN_AI_SYSTEM: Final = "gen_ai.system"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
CACHE_TIER: Final = "llmix.cache.tier"
CACHE_HIT: Final = "llmix.cache.hit"
CACHE_KEY_DIGEST: Final = "llmix.cache.key_digest"
DB_SYSTEM_NAME: Final = "db.system.name"
DB_OPERATION_NAME: Final = "db.operation.name"

_HEX: Final = "0123456789abcdef"
#: ``telemetry.otel_exporter`` values: OTLP/HTTP, batched then discarded, or printed.
EXPORTERS: Final = ("otlp", "none", "console")
_active: TracerProvider | None = None

Attributes = dict[str, AttributeValue]
#: A counter bound to its label set, told the outcome (``Metrics.lookup``).
Count = Callable[[str], None]


def key_digest(key: str) -> str:
    """The SHA-256 hex digest a cache key ends with (a hash of the key when it has none)."""
    tail = key[-64:]
    if len(tail) == 64 and not tail.strip(_HEX):  # a slice and one C loop, no regex
        return tail
    return hashlib.sha256(key.encode()).hexdigest()


def llm_request_attributes(provider: str, model: str, operation: str = "chat") -> Attributes:
    """Attributes of an ``llmix.llm.call`` span known before the call."""
    return {
        GEN_AI_OPERATION_NAME: operation,
        GEN_AI_PROVIDER_NAME: provider,
        GEN_AI_SYSTEM: provider,
        GEN_AI_REQUEST_MODEL: model,
    }


def llm_response_attributes(model: str, input_tokens: int, output_tokens: int) -> Attributes:
    """Attributes of an ``llmix.llm.call`` span known once the provider answered."""
    return {
        GEN_AI_RESPONSE_MODEL: model,
        GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
        GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
    }


def cache_attributes(tier: str, hit: bool, key: str) -> Attributes:
    """Attributes of an ``llmix.cache.*`` span: the tier (``l1``/``l2``), hit, key digest."""
    return {CACHE_TIER: tier, CACHE_HIT: hit, CACHE_KEY_DIGEST: key_digest(key)}


def content_attributes(record_content: bool, messages_json: str, output_json: str) -> Attributes:
    """Prompt and completion as JSON strings, or nothing unless ``record_content`` is on."""
    if not record_content:
        return {}
    return {GEN_AI_INPUT_MESSAGES: messages_json, GEN_AI_OUTPUT_MESSAGES: output_json}


#: The context key OTel keeps the current span under, read through the public API once.
_SPAN_KEY: Final = next(iter(trace.set_span_in_context(trace.INVALID_SPAN, Context())))


def recording() -> bool:
    """Whether the current span records (a sampled job): the one check made before any span
    work, so an unsampled job builds no attributes and starts no span. The same answer as
    ``trace.get_current_span().is_recording()`` at half the cost (no ABC ``isinstance``)."""
    span: Any = get_current().get(_SPAN_KEY)
    return span is not None and bool(span.is_recording())


def mark_failed(span: trace.Span, exc: BaseException, timestamp: int | None = None) -> None:
    """Record ``exc`` on ``span`` (an ``exception`` event) and set its status to error."""
    span.record_exception(exc, timestamp=timestamp)
    span.set_status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}")


def get_tracer() -> trace.Tracer:
    """The package's tracer from the global provider (a no-op until :func:`setup_tracing`)."""
    return trace.get_tracer(TRACER_NAME)


def setup_tracing(
    section: TelemetrySettings, *, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Install the SDK provider for this process; ``None`` (nothing done) when OTel is off.

    Samples ``ParentBased(TraceIdRatioBased(otel_sampling_ratio))``, exports in batches to
    ``exporter`` or the one ``otel_exporter`` names: OTLP/HTTP at ``otel_endpoint`` (empty: the
    ``OTEL_EXPORTER_OTLP_*`` environment), ``none`` (batched, then discarded) or ``console``.
    Sets the provider as global and instruments Celery. Call it in the process that runs tasks,
    after fork (a prefork child), and pair it with :func:`shutdown_tracing`; a second call
    returns the provider already set up (OTel allows one global per process).

    Raises:
        ConfigError: tracing is on but the ``[otel]`` extra is not installed.
    """
    global _active
    if not section.otel_enabled:
        return None
    if _active is not None:
        return _active
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        celery = _celery_instrumentor()
        if exporter is None:
            exporter = _exporter(section.otel_exporter, section.otel_endpoint)
    except ImportError as exc:
        raise ConfigError(
            f"telemetry.otel_enabled needs the [otel] extra ({exc.name} is missing): "
            'pip install "llmix_workers[otel]"'
        ) from exc
    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(section.otel_sampling_ratio)),
        resource=Resource.create({SERVICE_NAME: section.otel_service_name}),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    celery.instrument(tracer_provider=provider)
    _active = provider
    return provider


def shutdown_tracing() -> None:
    """Undo :func:`setup_tracing`: uninstrument Celery, flush and shut the provider down.

    A no-op when tracing was not set up. The global provider stays installed (OTel allows one
    per process) but exports nothing afterwards.
    """
    global _active
    if _active is None:
        return
    _celery_instrumentor().uninstrument()
    provider, _active = _active, None
    provider.shutdown()


def _celery_instrumentor() -> Any:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    return CeleryInstrumentor()  # type: ignore[no-untyped-call]


def _exporter(kind: str, endpoint: str) -> SpanExporter:
    """The span exporter ``telemetry.otel_exporter`` names (see :data:`EXPORTERS`)."""
    if kind == "none":
        from llmix_workers.telemetry.discard import DiscardExporter

        return DiscardExporter()
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if kind != "otlp":
        raise ConfigError(f"telemetry.otel_exporter must be one of {list(EXPORTERS)}, got {kind!r}")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if not endpoint:
        return OTLPSpanExporter()
    url = endpoint.rstrip("/")
    return OTLPSpanExporter(endpoint=url if url.endswith("/v1/traces") else f"{url}/v1/traces")
