from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from celery import Celery
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from llmix_workers.cache.keys import generate_cache_key
from llmix_workers.errors import ConfigError
from llmix_workers.settings import TelemetrySettings
from llmix_workers.telemetry import tracing

SECRET_KEY = "sk-test-0123456789abcdef"
PROMPT = "Tell me the launch codes"


def section(**values: Any) -> TelemetrySettings:
    return TelemetrySettings.model_validate({"otel_enabled": True, **values})


@pytest.fixture(autouse=True)
def fresh_globals() -> Iterator[None]:
    """OTel allows one global provider per process; tests reset it around each setup."""
    yield
    tracing.shutdown_tracing()
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def celery_instrumented() -> bool:
    return bool(tracing._celery_instrumentor().is_instrumented_by_opentelemetry)


def finished(provider: TracerProvider, exporter: InMemorySpanExporter) -> list[Any]:
    assert provider.force_flush()
    return list(exporter.get_finished_spans())


def test_disabled_sets_nothing_up(exporter: InMemorySpanExporter) -> None:
    assert tracing.setup_tracing(TelemetrySettings(), exporter=exporter) is None
    with tracing.get_tracer().start_as_current_span("x") as span:
        assert not span.is_recording()
    assert not celery_instrumented()


def test_enabled_installs_a_global_sampled_provider(exporter: InMemorySpanExporter) -> None:
    provider = tracing.setup_tracing(section(otel_service_name="svc-a"), exporter=exporter)
    assert provider is not None
    assert trace.get_tracer_provider() is provider
    with tracing.get_tracer().start_as_current_span(tracing.SPAN_LLM_CALL) as span:
        span.set_attributes(tracing.llm_request_attributes("openai", "gpt-4o"))
        span.set_attributes(tracing.llm_response_attributes("gpt-4o-2024-08-06", 12, 34))
    [done] = finished(provider, exporter)
    assert done.name == "llmix.llm.call"
    assert done.resource.attributes["service.name"] == "svc-a"
    assert dict(done.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 34,
    }


def test_second_setup_returns_the_first_provider(exporter: InMemorySpanExporter) -> None:
    first = tracing.setup_tracing(section(), exporter=exporter)
    assert tracing.setup_tracing(section(otel_sampling_ratio=0.0)) is first
    assert trace.get_tracer_provider() is first


def test_ratio_zero_records_nothing(exporter: InMemorySpanExporter) -> None:
    provider = tracing.setup_tracing(section(otel_sampling_ratio=0.0), exporter=exporter)
    assert provider is not None
    for _ in range(50):
        with tracing.get_tracer().start_as_current_span(tracing.SPAN_CACHE_GET) as span:
            assert not span.is_recording()
    assert finished(provider, exporter) == []


def test_celery_tasks_are_traced_without_arguments_in_attributes(
    exporter: InMemorySpanExporter,
) -> None:
    provider = tracing.setup_tracing(section(), exporter=exporter)
    assert provider is not None
    app = Celery("tracing-test", broker="memory://", backend="cache+memory://")

    @app.task(name="llmix.test_complete")  # type: ignore[untyped-decorator]
    def complete(request: dict[str, Any]) -> str:
        key = generate_cache_key(request)
        with tracing.get_tracer().start_as_current_span(tracing.SPAN_CACHE_GET) as span:
            span.set_attributes(tracing.cache_attributes("l1", False, key))
            span.set_attributes(tracing.content_attributes(False, PROMPT, "answer"))
        return "answer"

    request = {"model": "gpt-4o", "apiKey": SECRET_KEY, "messages": [{"content": PROMPT}]}
    assert complete.apply(kwargs={"request": request}).get() == "answer"
    spans = finished(provider, exporter)
    by_name = {span.name: span for span in spans}
    assert set(by_name) == {"llmix.cache.get", "run/llmix.test_complete"}
    cache_span = by_name["llmix.cache.get"]
    assert cache_span.parent.span_id == by_name["run/llmix.test_complete"].context.span_id
    assert cache_span.attributes["llmix.cache.key_digest"] == generate_cache_key(request)[-64:]
    for span in spans:
        for value in span.attributes.values():
            assert SECRET_KEY not in str(value)
            assert PROMPT not in str(value)


def test_shutdown_uninstruments_celery(exporter: InMemorySpanExporter) -> None:
    tracing.setup_tracing(section(), exporter=exporter)
    assert celery_instrumented()
    tracing.shutdown_tracing()
    assert not celery_instrumented()
    tracing.shutdown_tracing()


def test_content_only_when_asked() -> None:
    assert tracing.content_attributes(False, PROMPT, "out") == {}
    assert tracing.content_attributes(True, PROMPT, "out") == {
        "gen_ai.input.messages": PROMPT,
        "gen_ai.output.messages": "out",
    }


def test_key_digest() -> None:
    key = generate_cache_key({"model": "m"}, prefix="app:")
    assert tracing.key_digest(key) == key.removeprefix("app:")
    foreign = tracing.key_digest("not-a-digest")
    assert len(foreign) == 64 and foreign != "not-a-digest"


def test_missing_extra_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, exporter: InMemorySpanExporter
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(ConfigError, match=r"\[otel\] extra"):
        tracing.setup_tracing(section())
    assert trace.get_tracer_provider() is not None
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def test_otlp_http_export_reaches_the_endpoint() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.received.clear()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/"
        provider = tracing.setup_tracing(section(otel_endpoint=endpoint))
        assert provider is not None
        with tracing.get_tracer().start_as_current_span(tracing.SPAN_CACHE_CLEAR):
            pass
        assert provider.force_flush()
    finally:
        server.shutdown()
        server.server_close()
    [(path, body)] = _Collector.received
    assert path == "/v1/traces"
    assert b"llmix.cache.clear" in body


def test_exporter_none_batches_spans_then_discards_them() -> None:
    from llmix_workers.telemetry.discard import DiscardExporter

    provider = tracing.setup_tracing(section(otel_exporter="none"))
    assert provider is not None
    with tracing.get_tracer().start_as_current_span(tracing.SPAN_CACHE_GET) as span:
        assert span.is_recording()
    assert provider.force_flush()
    [processor] = provider._active_span_processor._span_processors
    exporter = processor.span_exporter  # type: ignore[attr-defined]
    assert isinstance(exporter, DiscardExporter) and exporter.discarded == 1


def test_exporter_console_prints_spans() -> None:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    provider = tracing.setup_tracing(section(otel_exporter="console"))
    assert provider is not None
    [processor] = provider._active_span_processor._span_processors
    assert isinstance(processor.span_exporter, ConsoleSpanExporter)  # type: ignore[attr-defined]


def test_an_unknown_exporter_is_refused_naming_the_setting() -> None:
    from llmix_workers import load_settings

    with pytest.raises(ConfigError, match=r"telemetry\.otel_exporter: Input should be 'otlp'"):
        load_settings(telemetry={"otel_exporter": "zipkin"})


def test_recording_agrees_with_the_current_span(exporter: InMemorySpanExporter) -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    assert not tracing.recording()
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("sampled") as span:
        assert tracing.recording() is span.is_recording() is True
    with TracerProvider(sampler=ALWAYS_OFF).get_tracer("t").start_as_current_span("unsampled"):
        assert not tracing.recording()
    span = tracer.start_span("ended")
    span.end()
    with trace.use_span(span):
        assert not tracing.recording()
