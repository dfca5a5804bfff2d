"""One trace runs from the producer's publish span through a real worker to the cache and provider.

The test process traces its producer (SDK, in-memory exporter, the Celery instrumentation);
the workers export OTLP/HTTP to a receiver on loopback. Nodes: threads and prefork with the
defaults, one recording content, one sampling no root spans.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from llmix_workers.producer import CompletionProducer
from llmix_workers.settings import TelemetrySettings
from llmix_workers.telemetry import tracing as t
from llmix_workers.testing.local_fleet import STUB_KEY, LocalFleet, LocalWorker
from tests.celery.jobs import request
from tests.celery.otlp_receiver import OTLPReceiver, ReceivedSpan
from tests.celery.scrape import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TASK_SPAN = "run/llmix.complete"
PUBLISH_SPAN = "apply_async/llmix.complete"
CLI_SERVICE = "llmix-cli-under-test"
WORKER_SPANS = {
    TASK_SPAN, t.SPAN_CACHE_GET, t.SPAN_LLM_CALL, t.SPAN_CACHE_SET, t.SPAN_L2_GET,
    t.SPAN_L2_SET, t.SPAN_FLEET_LOCK_WAIT,
}  # fmt: skip


@dataclass
class Traced:
    fleet: LocalFleet
    receiver: OTLPReceiver
    provider: TracerProvider
    exporter: InMemorySpanExporter
    producer: CompletionProducer
    nodes: dict[str, LocalWorker]
    endpoint: str

    def run(self, node: str, req: dict[str, Any]) -> tuple[dict[str, Any], ReadableSpan]:
        """Run one job on ``node``; its output and the producer's publish span."""
        self.exporter.clear()
        output = self.producer.complete(req, queue=self.nodes[node].name, timeout_s=60)
        assert self.provider.force_flush()
        [publish] = [s for s in self.exporter.get_finished_spans() if s.name == PUBLISH_SPAN]
        return output, publish

    def trace_of(self, publish: ReadableSpan, names: set[str]) -> list[ReceivedSpan]:
        """The worker spans of ``publish``'s trace, once ``names`` have all arrived."""
        trace_id = f"{publish.context.trace_id:032x}"
        eventually(
            lambda: names <= {s.name for s in self.receiver.spans(trace_id)},
            f"worker spans {sorted(names)} in trace {trace_id}",
        )
        return self.receiver.spans(trace_id)


def reset_global_provider() -> None:
    """OTel allows one global provider per process; tests reset it (as the unit tests do)."""
    t.shutdown_tracing()
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


@pytest.fixture(scope="module")
def traced() -> Iterator[Traced]:
    receiver = OTLPReceiver()
    endpoint = receiver.start()
    reset_global_provider()
    exporter = InMemorySpanExporter()
    provider = t.setup_tracing(TelemetrySettings(otel_enabled=True), exporter=exporter)
    assert provider is not None
    env = {
        "LLMIX_TELEMETRY__OTEL_ENABLED": "true",
        "LLMIX_TELEMETRY__OTEL_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    try:
        with LocalFleet(worker_env=env) as fleet:
            nodes = {
                "threads": fleet.add_worker("ot", queues="ot", concurrency=2),
                "prefork": fleet.add_worker("op", queues="op", pool="prefork", concurrency=2),
            }
            fleet.worker_env["LLMIX_TELEMETRY__OTEL_RECORD_CONTENT"] = "true"
            nodes["content"] = fleet.add_worker("oc", queues="oc", concurrency=1)
            del fleet.worker_env["LLMIX_TELEMETRY__OTEL_RECORD_CONTENT"]
            fleet.worker_env["LLMIX_TELEMETRY__OTEL_SAMPLING_RATIO"] = "0"
            nodes["unsampled"] = fleet.add_worker("oz", queues="oz", concurrency=1)
            producer = CompletionProducer(fleet.settings(producer={"cache_first": False}))
            yield Traced(fleet, receiver, provider, exporter, producer, nodes, endpoint)
    finally:
        reset_global_provider()
        receiver.close()


def one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    [span] = [s for s in spans if s.name == name]
    return span


def values(spans: list[ReceivedSpan]) -> str:
    return repr([(s.attributes, s.resource) for s in spans])


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_one_trace_from_publish_to_cache_and_provider(traced: Traced, pool: str) -> None:
    prompt = f"trace me ({pool})"
    req = request(prompt)
    output, publish = traced.run(pool, req)
    spans = traced.trace_of(publish, WORKER_SPANS)
    task = one(spans, TASK_SPAN)
    assert task.parent_id == f"{publish.context.span_id:016x}"
    by_id = {s.span_id: s for s in spans}
    get, call = one(spans, t.SPAN_CACHE_GET), one(spans, t.SPAN_LLM_CALL)
    assert get.parent_id == task.span_id
    assert by_id[one(spans, t.SPAN_L2_GET).parent_id].name == t.SPAN_CACHE_GET
    assert get.attributes[t.CACHE_HIT] is False
    assert get.attributes[t.CACHE_KEY_DIGEST] == output["cacheKey"][-64:]
    usage = output["usage"]
    assert {k: call.attributes.get(k) for k in (
        t.GEN_AI_OPERATION_NAME, t.GEN_AI_PROVIDER_NAME, t.GEN_AI_REQUEST_MODEL,
        t.GEN_AI_RESPONSE_MODEL, t.GEN_AI_USAGE_INPUT_TOKENS, t.GEN_AI_USAGE_OUTPUT_TOKENS,
    )} == {
        t.GEN_AI_OPERATION_NAME: "chat", t.GEN_AI_PROVIDER_NAME: "openai",
        t.GEN_AI_REQUEST_MODEL: "gpt-4o-mini", t.GEN_AI_RESPONSE_MODEL: output["model"],
        t.GEN_AI_USAGE_INPUT_TOKENS: usage["inputTokens"],
        t.GEN_AI_USAGE_OUTPUT_TOKENS: usage["outputTokens"],
    }  # fmt: skip
    assert one(spans, t.SPAN_CACHE_SET).attributes[t.CACHE_KEY_DIGEST] == output["cacheKey"][-64:]
    assert prompt not in values(spans) and t.GEN_AI_INPUT_MESSAGES not in call.attributes

    again, publish_hit = traced.run(pool, req)
    hit = one(traced.trace_of(publish_hit, {TASK_SPAN, t.SPAN_CACHE_GET}), t.SPAN_CACHE_GET)
    assert again["cacheHit"] in ("l1", "l2")
    assert (hit.attributes[t.CACHE_HIT], hit.attributes[t.CACHE_TIER]) == (True, again["cacheHit"])


def test_content_is_recorded_only_when_asked(traced: Traced) -> None:
    req = request("record this prompt")
    _, publish = traced.run("content", req)
    call = one(traced.trace_of(publish, {TASK_SPAN, t.SPAN_LLM_CALL}), t.SPAN_LLM_CALL)
    assert req["messages"][0]["content"] in call.attributes[t.GEN_AI_INPUT_MESSAGES]


def test_no_api_key_in_any_span(traced: Traced) -> None:
    traced.run("threads", request("key check"))
    traced.run("content", request("key check [[stub:slow=10]]"))
    eventually(lambda: len(traced.receiver.bodies) > 0, "OTLP exports received")
    received = b"".join(traced.receiver.bodies)
    assert STUB_KEY.encode() not in received and b"Bearer" not in received


def test_sampling_ratio_zero_starts_no_worker_trace(traced: Traced) -> None:
    celery = t._celery_instrumentor()
    celery.uninstrument()  # an untraced producer: the worker decides alone, at ratio 0
    try:
        traced.producer.complete(request("not sampled"), queue="oz", timeout_s=60)
    finally:
        celery.instrument(tracer_provider=traced.provider)
    # a traced job on the same process afterwards: its parent was sampled, so it is recorded
    # (ParentBased), and its spans leave after anything the first job could have exported
    _, publish = traced.run("unsampled", request("sampled parent"))
    traced.trace_of(publish, {TASK_SPAN, t.SPAN_CACHE_GET})
    roots = [s for s in traced.receiver.spans() if s.name == TASK_SPAN and not s.parent_id]
    assert roots == []


def test_the_cli_publish_spans_parent_the_jobs(traced: Traced, tmp_path: Path) -> None:
    """``llmix-workers enqueue`` with tracing on starts each job's trace (issue 21, defect 4):
    before, the CLI exported nothing and every job began a new trace at the worker."""
    batch = tmp_path / "jobs.jsonl"
    batch.write_text("".join(json.dumps(request(f"traced from the CLI {n}")) + "\n"
                             for n in range(2)))  # fmt: skip
    env = traced.fleet.env() | {
        "LLMIX_TELEMETRY__OTEL_ENABLED": "true",
        "LLMIX_TELEMETRY__OTEL_ENDPOINT": traced.endpoint,
        "LLMIX_TELEMETRY__OTEL_SERVICE_NAME": CLI_SERVICE,
        "LLMIX_TELEMETRY__OTEL_SAMPLING_RATIO": "1",  # the fleet's env has the "oz" node's 0
        "LLMIX_WORKER__QUEUE": traced.nodes["threads"].name,
    }
    done = subprocess.run(
        [sys.executable, "-m", "llmix_workers", "enqueue", "--jsonl", str(batch), "--wait",
         "--no-cache-first"], env=env, cwd=traced.fleet.workdir, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-800:]

    def published() -> list[ReceivedSpan]:
        return [
            s
            for s in traced.receiver.spans()
            if s.name == PUBLISH_SPAN and s.resource.get("service.name") == CLI_SERVICE
        ]

    eventually(lambda: len(published()) == 2, "the CLI's two publish spans exported")
    for publish in published():
        under = (lambda publish=publish: any(  # noqa: E731
            s.name == TASK_SPAN and s.parent_id == publish.span_id
            for s in traced.receiver.spans(publish.trace_id)
        ))  # fmt: skip
        eventually(under, f"the worker's {TASK_SPAN} span under the CLI's publish span")
