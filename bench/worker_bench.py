"""Throughput of cached completions through real workers, beside a no-op task, same run.

Two worker processes (threads pool) on a private Redis broker; the cache is warmed with the
distinct requests first, so every measured ``llmix.complete`` job is an L1 or L2 hit. The
baseline sends the same payloads to ``llmix.noop`` (returns its argument) on the same broker,
pool and concurrency. Rounds alternate; the ratio is the median of per-round throughput ratios.
Target: cached ≥ 0.8 × no-op.

Usage: ``python bench/worker_bench.py [--jobs N] [--rounds R]``. Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.worker.tasks import TASK_COMPLETE, TASK_NOOP


def requests(distinct: int) -> list[dict[str, Any]]:
    return [
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are a concise assistant. " * 10},
                {"role": "user", "content": f"Question number {n}: what is {n} squared?"},
            ],
            "temperature": 0.2,
        }
        for n in range(distinct)
    ]


def throughput(producer: CompletionProducer, task: str, payloads: list[dict[str, Any]]) -> float:
    """Jobs per second from the first send to the last result."""
    app = producer.app
    started = time.perf_counter()
    ids = [app.send_task(task, args=[p], queue="llmix").id for p in payloads]
    done = 0
    for _, meta in app.backend.get_many(ids, timeout=600, interval=0.005):
        if meta["status"] != "SUCCESS":
            raise RuntimeError(f"{task} failed: {meta.get('result')}")
        done += 1
    elapsed = time.perf_counter() - started
    assert done == len(payloads)
    return len(payloads) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs per measured round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with LocalFleet() as fleet:
        for name in ("bench-1", "bench-2"):
            fleet.add_worker(name, concurrency=args.concurrency, loglevel="WARNING")
        producer = CompletionProducer(fleet.settings())
        distinct = requests(200)
        warm = producer.run_batch(distinct * 2, timeout_s=300)  # both workers see every key
        assert all(o.ok for o in warm), [o.error for o in warm if not o.ok][:3]
        payloads = [distinct[n % len(distinct)] for n in range(args.jobs)]
        throughput(producer, TASK_NOOP, payloads[:200])  # warm the no-op path too
        cached, noop, ratios = [], [], []
        for round_index in range(args.rounds):
            order = (
                [TASK_COMPLETE, TASK_NOOP] if round_index % 2 == 0 else [TASK_NOOP, TASK_COMPLETE]
            )
            rates = {task: throughput(producer, task, payloads) for task in order}
            cached.append(rates[TASK_COMPLETE])
            noop.append(rates[TASK_NOOP])
            ratios.append(rates[TASK_COMPLETE] / rates[TASK_NOOP])
        stub_calls = fleet.stub.calls()["total"] if fleet.stub else 0
    row = {
        "cached_jobs_per_s": round(statistics.median(cached), 1),
        "noop_jobs_per_s": round(statistics.median(noop), 1),
        "ratio": round(statistics.median(ratios), 3),
        "target": 0.8,
        "jobs_per_round": args.jobs,
        "rounds": args.rounds,
        "provider_calls": stub_calls,
    }
    table = Table(title="cached completions vs no-op task (2 workers, threads pool)")
    for column in ("cached jobs/s", "no-op jobs/s", "ratio", "target", "ok", "provider calls"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{row['cached_jobs_per_s']:.0f}", f"{row['noop_jobs_per_s']:.0f}", f"{row['ratio']:.2f}",
        "≥ 0.8", "yes" if row["ratio"] >= 0.8 else "NO", str(stub_calls),
    )  # fmt: skip
    Console().print(table)
    print(json.dumps({"bench": "worker", **row}))


if __name__ == "__main__":
    main()
