from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from prometheus_client import CollectorRegistry

from llmix_workers.cache.backend import MISS
from llmix_workers.cache.backends.memory import MemoryL2
from llmix_workers.cache.keys import generate_cache_key
from llmix_workers.errors import L2Unavailable
from llmix_workers.settings import TelemetrySettings
from llmix_workers.telemetry.instrumented import InstrumentedL2
from llmix_workers.telemetry.metrics import Metrics
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.l2_contract import L2BackendContract

KEY = generate_cache_key({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> trace.Tracer:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test")


class TestInstrumentedL2Unsampled(L2BackendContract):
    @pytest.fixture
    def backend(self) -> InstrumentedL2:
        return InstrumentedL2(
            MemoryL2(clock=FakeClock()),
            Metrics.from_settings(TelemetrySettings(), CollectorRegistry()),
        )

    def advance(self, backend: Any, seconds: float) -> None:
        backend.backend._clock.tick(seconds)


class TestInstrumentedL2Traced(L2BackendContract):
    @pytest.fixture
    def backend(
        self, tracer: trace.Tracer, exporter: InMemorySpanExporter, request: pytest.FixtureRequest
    ) -> Iterator[InstrumentedL2]:
        with tracer.start_as_current_span("test"):
            yield InstrumentedL2(MemoryL2(clock=FakeClock()), None, tracer)
        if request.node.name != "test_is_an_enabled_l2_backend":
            spans = exporter.get_finished_spans()
            assert any(span.name.startswith("llmix.l2.") for span in spans)

    def advance(self, backend: Any, seconds: float) -> None:
        backend.backend._clock.tick(seconds)


@pytest.mark.parametrize("traced", [False, True])
def test_unavailable_is_counted_per_operation_and_reraised(
    traced: bool, tracer: trace.Tracer
) -> None:
    registry = CollectorRegistry()
    memory = MemoryL2()
    backend = InstrumentedL2(memory, Metrics.from_settings(TelemetrySettings(), registry), tracer)
    memory.down = True
    with tracer.start_as_current_span("job") if traced else _nothing():
        for _ in range(2):
            with pytest.raises(L2Unavailable):
                backend.get(KEY)
        with pytest.raises(L2Unavailable):
            backend.set(KEY, b"x", 10)
        with pytest.raises(L2Unavailable):
            backend.delete_entries("llmix:", 100)
    errors = "llmix_l2_errors_total"
    assert registry.get_sample_value(errors, {"operation": "get"}) == 2
    assert registry.get_sample_value(errors, {"operation": "set"}) == 1
    assert registry.get_sample_value(errors, {"operation": "delete"}) == 1
    memory.down = False
    backend.set(KEY, b"x", 10)
    assert backend.get(KEY) == b"x"
    assert registry.get_sample_value(errors, {"operation": "set"}) == 1


def test_without_metrics_errors_still_propagate() -> None:
    memory = MemoryL2()
    memory.down = True
    with pytest.raises(L2Unavailable):
        InstrumentedL2(memory, None).get(KEY)


def test_spans_follow_redis_conventions_and_carry_only_the_digest(
    tracer: trace.Tracer, exporter: InMemorySpanExporter
) -> None:
    backend = InstrumentedL2(MemoryL2(), None, tracer)
    with tracer.start_as_current_span("llmix.job") as parent:
        assert backend.get(KEY) is MISS
        backend.set(KEY, b"secret completion text", 60)
        assert backend.get(KEY) == b"secret completion text"
        assert backend.delete_entries("llmix:resp:v2:", 100) == 1
    spans = {
        (s.name, (s.attributes or {}).get("llmix.cache.hit")): s
        for s in exporter.get_finished_spans()
    }
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == [
        "llmix.l2.get",
        "llmix.l2.set",
        "llmix.l2.get",
        "llmix.l2.delete_entries",
        "llmix.job",
    ]
    digest = KEY.removeprefix("llmix:resp:v2:")
    hit = spans[("llmix.l2.get", True)]
    assert dict(hit.attributes or {}) == {
        "db.system.name": "redis",
        "db.operation.name": "GET",
        "llmix.cache.key_digest": digest,
        "llmix.cache.hit": True,
    }
    assert hit.kind is trace.SpanKind.CLIENT
    assert hit.parent is not None and hit.parent.span_id == parent.get_span_context().span_id
    assert spans[("llmix.l2.get", False)].attributes is not None
    set_span = spans[("llmix.l2.set", None)]
    assert (set_span.attributes or {})["db.operation.name"] == "SET"
    deleted = spans[("llmix.l2.delete_entries", None)]
    assert (deleted.attributes or {})["llmix.l2.deleted"] == 1
    for span in exporter.get_finished_spans():
        for value in (span.attributes or {}).values():
            assert "secret" not in str(value)


def test_failed_call_marks_its_span_as_error(
    tracer: trace.Tracer, exporter: InMemorySpanExporter
) -> None:
    memory = MemoryL2()
    memory.down = True
    with tracer.start_as_current_span("job"), pytest.raises(L2Unavailable):
        InstrumentedL2(memory, None, tracer).set(KEY, b"x", 10)
    failed = exporter.get_finished_spans()[0]
    assert failed.name == "llmix.l2.set"
    assert failed.status.status_code is trace.StatusCode.ERROR
    assert [event.name for event in failed.events] == ["exception"]


def test_no_span_without_a_recording_parent(exporter: InMemorySpanExporter) -> None:
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    backend = InstrumentedL2(MemoryL2(), None, tracer)
    backend.set(KEY, b"x", 10)
    with tracer.start_as_current_span("unsampled") as parent:
        assert not parent.is_recording()
        assert backend.get(KEY) == b"x"
    assert exporter.get_finished_spans() == ()


def test_passes_enabled_and_close_through() -> None:
    memory = MemoryL2()
    backend = InstrumentedL2(memory, None)
    assert backend.enabled is True
    backend.set(KEY, b"x", 10)
    assert backend.count_entries(KEY[:-64]) == 1
    backend.close()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
