"""Misses one task per request vs in chunks (one message, several requests), same run.

The chunked variant is an experiment kept here, not in the package: ``llmix.complete_many``
takes a list of payloads and runs each through the worker's own ``CompletionService`` (its own
cache lookup, single flight and result line), in order, returning one output or error per item.
Workers for it are started by this script (``python bench/chunk_bench.py worker ...``: the same
``create_app`` as ``llmix-workers worker`` plus that task). Both variants run on the same fleet
(two processes, threads pool) against the stub provider: with latency 0 (the message cost
alone) and with ``--latency-ms`` (a provider that takes time): a small batch, and one with many
more requests than worker threads.

Usage: ``python bench/chunk_bench.py [--misses N] [--chunks 10,50]``. Prints a table and a
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from batch_bench import requests
from record import record
from rich.console import Console
from rich.table import Table

from llmix_workers.errors import LlmixError
from llmix_workers.jobs.job import CompletionJob
from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from llmix_workers.worker.tasks import TASK_COMPLETE

TASK_COMPLETE_MANY = "llmix.complete_many"


def serve(argv: Sequence[str]) -> None:
    """The worker process: ``worker <hostname> <concurrency>``."""
    from celery import Celery

    from llmix_workers.settings import load_settings
    from llmix_workers.worker.app import create_app
    from llmix_workers.worker.runtime import runtime_for

    hostname, concurrency = argv[0], int(argv[1])
    settings = load_settings()
    app: Celery = create_app(settings, worker_pool="threads", worker_concurrency=concurrency)

    @app.task(name=TASK_COMPLETE_MANY, bind=True, acks_late=True)  # type: ignore[untyped-decorator]
    def complete_many(self: Any, payloads: list[Any]) -> list[dict[str, Any]]:
        runtime = runtime_for(settings, self.request.hostname or "")
        out: list[dict[str, Any]] = []
        for payload in payloads:
            try:
                out.append(runtime.service.complete(CompletionJob.from_payload(payload)))
            except LlmixError as exc:  # no per-item re-queue: the chunk's weak spot
                out.append({"error": str(exc), "errorType": type(exc).__name__})
        return out

    app.worker_main(["worker", "--loglevel=WARNING", "--pool=threads",
                     f"--concurrency={concurrency}", "--queues=llmix", "--without-gossip",
                     "--without-mingle", f"--hostname={hostname}"])  # fmt: skip


def add_worker(fleet: LocalFleet, name: str, concurrency: int) -> None:
    worker = LocalWorker(name, fleet.env() | {"PYTHONPATH": os.path.dirname(__file__)},
                         fleet.workdir)  # fmt: skip
    worker._args = [sys.executable, __file__, "worker", worker.hostname, str(concurrency)]
    fleet.workers.append(worker)
    worker.start(ready=fleet._answers_ping)


def one_per_task(producer: CompletionProducer, batch: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    outcomes = producer.run_batch(batch, cache_first=False, timeout_s=1800)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok][:3]
    return time.perf_counter() - started


def chunked(producer: CompletionProducer, batch: list[dict[str, Any]], size: int) -> float:
    started = time.perf_counter()
    chunks = [batch[i : i + size] for i in range(0, len(batch), size)]
    ids = [producer.app.send_task(TASK_COMPLETE_MANY, args=[c], queue="llmix").id for c in chunks]
    done = producer.collect(producer.batch_of(ids), timeout_s=1800).ordered()
    items = [item for outcome in done for item in (outcome.output or {}).get("content", [])]
    assert len(items) == len(batch) and not any("error" in i for i in items), items[:1]
    return time.perf_counter() - started


def compare(
    producer: CompletionProducer, misses: int, sizes: Sequence[int], tag: str
) -> list[dict[str, Any]]:
    """Seconds for ``misses`` never-seen requests: one task each, then each chunk size."""
    seconds = [one_per_task(producer, requests(misses, f"{tag}-1"))]
    seconds += [chunked(producer, requests(misses, f"{tag}-{size}"), size) for size in sizes]
    rows: list[dict[str, Any]] = []
    for size, took in zip([1, *sizes], seconds, strict=True):
        rows.append({"chunk": size, "task": TASK_COMPLETE if size == 1 else TASK_COMPLETE_MANY,
                     "s": round(took, 3), "requests_per_s": round(misses / took, 1),
                     "vs_one_per_task": round(seconds[0] / took, 2)})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--misses", type=int, default=4000, help="requests at latency 0")
    parser.add_argument("--slow-misses", type=int, default=64, help="requests at --latency-ms")
    parser.add_argument("--wide-misses", type=int, default=640, help="many more than threads")
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--chunks", default="10,50", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument(
        "--record", action="store_true", help="keep the result in docs/explanations/"
    )
    args = parser.parse_args()
    with LocalFleet(stub_latency_ms=0) as fleet:
        for name in ("chunk-1", "chunk-2"):
            add_worker(fleet, name, args.concurrency)
        producer = CompletionProducer(fleet.settings())
        compare(producer, 200, args.chunks, "warm")
        fast = compare(producer, args.misses, args.chunks, "fast")
        assert fleet.stub is not None
        fleet.stub.script(latency_ms=args.latency_ms)
        slow = compare(producer, args.slow_misses, args.chunks, "slow")
        wide = compare(producer, args.wide_misses, args.chunks, "wide")
        load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    table = Table(
        title=f"misses: one task each vs chunks (2 workers × {args.concurrency} threads; {load})"
    )
    for column in ("provider latency", "requests", "chunk", "seconds", "req/s", "vs one each"):
        table.add_column(column, justify="right")
    for latency, count, rows in ((0, args.misses, fast), (args.latency_ms, args.slow_misses, slow),
                                 (args.latency_ms, args.wide_misses, wide)):  # fmt: skip
        for r in rows:
            rate, ratio = f"{r['requests_per_s']:,.0f}", f"{r['vs_one_per_task']:.2f}×"
            table.add_row(f"{latency} ms", f"{count:,}", str(r["chunk"]), f"{r['s']:.2f}", rate,
                          ratio)  # fmt: skip
    Console().print(table)
    row = {"misses": args.misses, "slow_misses": args.slow_misses, "latency_ms": args.latency_ms,
           "concurrency": args.concurrency, "fast": fast, "slow": slow, "load": load,
           "wide_misses": args.wide_misses, "wide": wide}  # fmt: skip
    if args.record:
        record("chunks", row)
    print(json.dumps({"bench": "chunks", **row}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        serve(sys.argv[2:])
    else:
        main()
