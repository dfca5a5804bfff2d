"""JobTelemetry through a real CompletionService: which spans a job makes, how they nest, what
they carry, and that an unsampled job makes none while its counters still add up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from prometheus_client import CollectorRegistry

from llmix_workers.cache.backends.memory import MemoryL2
from llmix_workers.cache.tiered import TwoTierCache
from llmix_workers.jobs.job import CompletionJob
from llmix_workers.jobs.service import CompletionService
from llmix_workers.settings import CacheSettings, TelemetrySettings
from llmix_workers.telemetry import tracing as t
from llmix_workers.telemetry.instrumented import InstrumentedL2
from llmix_workers.telemetry.job_telemetry import JobTelemetry
from llmix_workers.telemetry.metrics import Metrics
from llmix_workers.testing.fake_client import FakeClient


def job(text: str) -> CompletionJob:
    return CompletionJob.from_payload(
        {"provider": "openai", "model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    )


class Traced:
    def __init__(self, sampled: bool) -> None:
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider(sampler=None if sampled else ALWAYS_OFF)
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = provider.get_tracer("test")
        self.registry = CollectorRegistry()
        metrics = Metrics.from_settings(TelemetrySettings(), self.registry)
        self.memory = MemoryL2()
        l2 = InstrumentedL2(self.memory, metrics, self.tracer)
        self.cache = TwoTierCache("redis", CacheSettings(l1_max_entries=1), l2=l2)
        self.service = CompletionService(
            self.cache, FakeClient(), observer=JobTelemetry(metrics, tracer=self.tracer)
        )

    def run(self, *jobs: CompletionJob) -> tuple[list[dict[str, Any]], list[ReadableSpan]]:
        """Each job inside its own job span; the outputs and the spans below the job spans."""
        self.exporter.clear()
        outputs = []
        for one in jobs:
            with self.tracer.start_as_current_span("run/llmix.complete"):
                outputs.append(self.service.complete(one))
        spans = [s for s in self.exporter.get_finished_spans() if s.name != "run/llmix.complete"]
        return outputs, spans

    def count(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def traced() -> Iterator[Traced]:
    yield Traced(sampled=True)


def by_name(spans: list[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        found.setdefault(span.name, []).append(span)
    return found


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None
    [parent] = [s for s in spans if s.context.span_id == span.parent.span_id]
    return parent


def within(child: ReadableSpan, parent: ReadableSpan) -> bool:
    assert child.start_time and child.end_time and parent.start_time and parent.end_time
    return parent.start_time <= child.start_time <= child.end_time <= parent.end_time


def test_a_miss_traces_lookup_l2_provider_call_and_store(traced: Traced) -> None:
    [output], spans = traced.run(job("first"))
    names = by_name(spans)
    assert sorted(names) == sorted(
        [t.SPAN_CACHE_GET, t.SPAN_L2_GET, t.SPAN_LLM_CALL, t.SPAN_CACHE_SET, t.SPAN_L2_SET]
    )
    digest = output["cacheKey"][-64:]
    [get] = names[t.SPAN_CACHE_GET]
    assert dict(get.attributes or {}) == {
        t.CACHE_KEY_DIGEST: digest, t.CACHE_TIER: "none", t.CACHE_HIT: False,
    }  # fmt: skip
    [l2_get] = names[t.SPAN_L2_GET]
    assert parent_of(l2_get, spans) is get and within(l2_get, get)
    assert l2_get.kind is trace.SpanKind.CLIENT
    assert dict(l2_get.attributes or {}) == {
        t.DB_SYSTEM_NAME: "redis", t.DB_OPERATION_NAME: "GET", t.CACHE_KEY_DIGEST: digest,
        t.CACHE_HIT: False,
    }  # fmt: skip
    [call] = names[t.SPAN_LLM_CALL]
    assert (call.attributes or {})[t.GEN_AI_PROVIDER_NAME] == "openai"
    assert (call.attributes or {})[t.GEN_AI_USAGE_OUTPUT_TOKENS] == output["usage"]["outputTokens"]
    [stored] = names[t.SPAN_CACHE_SET]
    [l2_set] = names[t.SPAN_L2_SET]
    assert parent_of(l2_set, spans) is stored and within(l2_set, stored)
    assert (stored.attributes or {})[t.CACHE_KEY_DIGEST] == digest


def test_an_l2_hit_is_a_lookup_span_with_its_l2_call_as_child(traced: Traced) -> None:
    traced.run(job("a"), job("b"))  # L1 holds one entry: "a" is only in L2 now
    [output], spans = traced.run(job("a"))
    assert output["cacheHit"] == "l2"
    names = by_name(spans)
    assert sorted(names) == [t.SPAN_CACHE_GET, t.SPAN_L2_GET]
    [get], [l2_get] = names[t.SPAN_CACHE_GET], names[t.SPAN_L2_GET]
    assert (get.attributes or {})[t.CACHE_TIER] == "l2"
    assert (get.attributes or {})[t.CACHE_HIT] is True
    assert (l2_get.attributes or {})[t.CACHE_HIT] is True
    assert parent_of(l2_get, spans) is get and within(l2_get, get)
    assert get.parent is not None  # under the job's span
    assert traced.count("llmix_cache_lookups_total", outcome="l2_hit") == 1


def test_an_l1_hit_is_one_span(traced: Traced) -> None:
    traced.run(job("a"))
    [output], spans = traced.run(job("a"))
    assert output["cacheHit"] == "l1"
    [get] = spans
    assert get.name == t.SPAN_CACHE_GET
    assert ((get.attributes or {})[t.CACHE_TIER], (get.attributes or {})[t.CACHE_HIT]) == (
        "l1",
        True,
    )


def test_a_failed_l2_read_is_an_error_span_under_the_lookup(traced: Traced) -> None:
    traced.memory.down = True
    _, spans = traced.run(job("down"))
    names = by_name(spans)
    [get] = names[t.SPAN_CACHE_GET]
    [failed, *_] = names[t.SPAN_L2_GET]
    assert parent_of(failed, spans) is get
    assert failed.status.status_code is trace.StatusCode.ERROR
    assert [event.name for event in failed.events] == ["exception"]
    assert traced.count("llmix_l2_errors_total", operation="get") >= 1


def test_an_unsampled_job_makes_no_span_and_still_counts() -> None:
    traced = Traced(sampled=False)
    traced.run(job("a"), job("b"))
    outputs, spans = traced.run(job("a"), job("a"), job("c"))
    assert [o["cacheHit"] for o in outputs] == ["l2", "l1", None]
    assert traced.exporter.get_finished_spans() == ()
    assert traced.count("llmix_cache_lookups_total", outcome="l1_hit") == 1
    assert traced.count("llmix_cache_lookups_total", outcome="l2_hit") == 1
    assert traced.count("llmix_cache_lookups_total", outcome="miss") == 3
    labels = {"provider": "openai", "model": "gpt-4o"}
    assert traced.count("llmix_completions_total", outcome="ok", **labels) == 5
    assert traced.count("llmix_completion_duration_seconds_count", cache="l1_hit") == 1
    saved = sum(o["usage"]["inputTokens"] for o in outputs if o["cacheHit"])
    assert traced.count("llmix_tokens_saved_total", direction="input", **labels) == saved
