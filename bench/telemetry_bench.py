"""Telemetry on beside telemetry off, measured in the same run, alternating rounds.

"On" is what a worker runs with ``metrics_port`` set and ``otel_enabled``: every metric, and the
OpenTelemetry SDK with a ``BatchSpanProcessor``, every span sampled. Rows (ratio = on / off,
the median of per-round ratios; absolute times mean little on a shared machine):

- cached completion through a real worker: threads nodes on one private Redis, the stub
  provider, ``CompletionProducer.run_batch`` of jobs that are all L1 hits; the "on" node has
  ``telemetry.otel_exporter = "none"`` (spans made, sampled and batched, then discarded: the
  no-op exporter of the other rows). Target ≤ 1.05.
- the same with a third node exporting OTLP/HTTP to a loopback sink that discards (serialising
  and posting the spans counted): information only, no target.
- L2 hit through ``CompletionService.complete`` (L1 of one entry, two alternating jobs) inside a
  sampled parent span, a no-op exporter behind the batch processor. Target ≤ 1.3.
- L1 hit through ``CompletionService.complete`` with tracing installed but the parent span
  unsampled: counters only. Target ≤ 1.5.

Usage: ``python bench/telemetry_bench.py [--rounds N] [--jobs N]``. A table, then a JSON line per
row.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.table import Table

from llmix_workers.jobs.job import CompletionJob
from llmix_workers.jobs.service import CompletionService
from llmix_workers.producer import CompletionProducer
from llmix_workers.settings import Settings, TelemetrySettings
from llmix_workers.telemetry.instrumented import InstrumentedL2
from llmix_workers.telemetry.job_telemetry import JobTelemetry
from llmix_workers.telemetry.metrics import Metrics
from llmix_workers.testing.fake_client import FakeClient
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.testing.redis_server import PrivateRedis, free_port
from llmix_workers.wiring.cache import build_response_cache, l2_backend

Measure = Callable[[int], float]  # count -> µs per call


def chat(n: int) -> dict[str, Any]:
    return {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a concise assistant. " * 10},
            {"role": "user", "content": f"Question number {n}: what is {n} squared?"},
        ],
    }


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _Discard(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


def compare(on: Measure, off: Measure, count: int, rounds: int) -> dict[str, float]:
    """Median µs of each side and the median of per-round on/off ratios, order alternating."""
    on(max(1, count // 10))
    off(max(1, count // 10))
    ons, offs, ratios = [], [], []
    for index in range(rounds):
        if index % 2 == 0:
            on_us, off_us = on(count), off(count)
        else:
            off_us, on_us = off(count), on(count)
        ons.append(on_us)
        offs.append(off_us)
        ratios.append(on_us / off_us)
    return {
        "on_us": round(statistics.median(ons), 2),
        "off_us": round(statistics.median(offs), 2),
        "ratio": round(statistics.median(ratios), 3),
    }


def loop(fn: Callable[[], object], parent: trace.Tracer | None = None) -> Measure:
    """µs per ``fn()`` call, run inside one span of ``parent`` when given."""

    def measure(count: int) -> float:
        start = time.perf_counter()
        if parent is None:
            for _ in range(count):
                fn()
        else:
            with parent.start_as_current_span("run/llmix.complete"):
                for _ in range(count):
                    fn()
        return (time.perf_counter() - start) / count * 1e6

    return measure


def worker_rows(rounds: int, jobs: int) -> list[dict[str, Any]]:
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Discard)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        with LocalFleet() as fleet:
            fleet.add_worker("off", queues="off", concurrency=4, loglevel="WARNING")
            fleet.worker_env.update(
                LLMIX_TELEMETRY__OTEL_ENABLED="true",
                LLMIX_TELEMETRY__OTEL_EXPORTER="none",
                LLMIX_TELEMETRY__OTEL_SAMPLING_RATIO="1",
            )
            fleet.add_worker(
                "on", queues="on", concurrency=4, loglevel="WARNING", metrics_port=free_port()
            )
            fleet.worker_env.update(
                LLMIX_TELEMETRY__OTEL_EXPORTER="otlp",
                LLMIX_TELEMETRY__OTEL_ENDPOINT=f"http://127.0.0.1:{sink.server_address[1]}",
            )
            fleet.add_worker(
                "otlp", queues="otlp", concurrency=4, loglevel="WARNING", metrics_port=free_port()
            )
            producer = CompletionProducer(fleet.settings(producer={"cache_first": False}))
            distinct = [chat(n) for n in range(50)]
            payloads = [distinct[n % len(distinct)] for n in range(jobs)]

            def batch(queue: str) -> Measure:
                def measure(count: int) -> float:
                    start = time.perf_counter()
                    outcomes = producer.run_batch(payloads[:count], queue=queue, timeout_s=600)
                    assert all(o.ok and (o.output or {})["cacheHit"] for o in outcomes)
                    return (time.perf_counter() - start) / count * 1e6

                return measure

            for queue in ("on", "off", "otlp"):  # every key into each node's L1
                assert all(o.ok for o in producer.run_batch(distinct, queue=queue))
            row = compare(batch("on"), batch("off"), jobs, rounds)
            otlp = compare(batch("otlp"), batch("off"), jobs, rounds)
    finally:
        sink.shutdown()
        sink.server_close()
    return [
        {"name": "cached completion through a worker", **row, "target": 1.05},
        {"name": "same, exporting OTLP/HTTP to a loopback sink", **otlp, "target": None},
    ]


def service_rows(rounds: int, count: int) -> list[dict[str, Any]]:
    sampled = TracerProvider(sampler=ALWAYS_ON)
    sampled.add_span_processor(BatchSpanProcessor(NoopExporter()))
    trace.set_tracer_provider(sampled)  # InstrumentedL2 traces through the global provider
    unsampled = TracerProvider(sampler=ALWAYS_OFF).get_tracer("bench")
    rows = []
    with PrivateRedis() as server:
        one_slot = Settings(redis={"url": server.url}, cache={"l1_max_entries": 1})

        def services(settings: Settings) -> tuple[CompletionService, CompletionService]:
            metrics = Metrics.from_settings(TelemetrySettings(), CollectorRegistry())
            observer = JobTelemetry(metrics, tracer=sampled.get_tracer("bench"))
            instrumented = InstrumentedL2(l2_backend(settings.redis), metrics)
            on_cache = build_response_cache(settings, l2=instrumented)
            on = CompletionService(on_cache, FakeClient(), observer=observer)
            off = CompletionService(build_response_cache(settings), FakeClient())
            return on, off

        on, off = services(one_slot)
        pair = [CompletionJob.from_payload(chat(n)) for n in (1, 2)]
        for job in pair:
            off.complete(job)
        flip = iter(range(10**12))
        l2 = compare(
            loop(lambda: on.complete(pair[next(flip) & 1]), sampled.get_tracer("bench")),
            loop(lambda: off.complete(pair[next(flip) & 1])),
            count // 10,
            rounds,
        )
        rows.append({"name": "L2 hit, every span sampled", **l2, "target": 1.3})
        on, off = services(Settings(redis={"url": server.url}))
        job = pair[0]
        on.complete(job)
        off.complete(job)
        l1 = compare(loop(lambda: on.complete(job), unsampled), loop(lambda: off.complete(job)),
                     count, rounds)  # fmt: skip
        rows.append({"name": "L1 hit, tracing unsampled", **l1, "target": 1.5})
    sampled.shutdown()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds per row")
    parser.add_argument("--jobs", type=int, default=400, help="worker jobs per round and side")
    parser.add_argument("--calls", type=int, default=20_000, help="L1 hits per round and side")
    args = parser.parse_args()
    rows = [*worker_rows(args.rounds, args.jobs), *service_rows(args.rounds, args.calls)]
    table = Table(title="telemetry on vs off (median of alternating rounds)")
    for column in ("operation", "on µs", "off µs", "ratio", "target", "ok"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for r in rows:
        target = r["target"]
        ok = "-" if target is None else "yes" if r["ratio"] <= target else "NO"
        table.add_row(r["name"], f"{r['on_us']:.1f}", f"{r['off_us']:.1f}", f"{r['ratio']:.2f}",
                      "none" if target is None else f"≤ {target}", ok)  # fmt: skip
    Console().print(table)
    for r in rows:
        print(json.dumps({"bench": "telemetry", **r}))


if __name__ == "__main__":
    main()
