"""Batch reruns at cache speed: cache-first batches beside today's path and the no-op task rate.

One run on a :class:`LocalFleet` (two real worker processes, threads pool, a private Redis as
broker, result backend and L2, the stub provider with latency 0); every ratio is against a
baseline measured in the same run:

(a) a batch of ``--requests`` (20,000), all cached, through ``CompletionProducer.run_batch``
    with cache-first vs ``cache_first=False`` (every request a task) vs the no-op task rate
    (``llmix.noop``, the same payloads, collected the same way). Target: ≥ 10× the no-op rate.
(b) the same batch with 10 % never-seen requests: end-to-end time, cache-first vs all tasks.
(c) the producer's lookup rate (requests/s through ``start_batch``: validate, key, pipelined
    MGETs, outputs) vs batch size.

Usage: ``python bench/batch_bench.py [--requests N] [--sizes 100,1000,...]``. Prints a table,
then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

import redis
from record import record
from rich.console import Console
from rich.table import Table

from llmix_workers.cache.entry import Entry, encode_entry
from llmix_workers.cache.keys import generate_cache_key
from llmix_workers.jobs.job import CompletionJob
from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.worker.tasks import TASK_NOOP

ANSWER = "The shipment was late because carrier A missed the cut-off. " * 34  # ~2 KB
USAGE = {"inputTokens": 120, "outputTokens": 480, "totalTokens": 600}


def requests(count: int, salt: str) -> list[dict[str, Any]]:
    """``count`` distinct ~500-byte chat requests; a new ``salt`` gives never-seen ones."""
    return [
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are a concise assistant. " * 10},
                {"role": "user", "content": f"[{salt}] Question {n}: what is {n} squared?"},
            ],
            "temperature": 0.2,
        }
        for n in range(count)
    ]


def fill(client: redis.Redis, batch: Sequence[dict[str, Any]], prefix: str, ttl_s: int) -> None:
    """Write each request's answer into L2 as a worker would (pipelined SETs)."""
    payload = encode_entry(Entry(ANSWER, time.time(), {"usage": USAGE, "model": "gpt-4o-mini"}))
    with client.pipeline(transaction=False) as pipe:
        for index, request in enumerate(batch):
            job = CompletionJob.from_payload(request)
            pipe.set(generate_cache_key(job.request.wire(), prefix), payload, ex=ttl_s)
            if index % 5000 == 4999:
                pipe.execute()
        pipe.execute()


def timed_batch(
    producer: CompletionProducer, batch: Sequence[dict[str, Any]], cache_first: bool
) -> tuple[float, int]:
    """(seconds from the first lookup to the last result, outputs answered by the producer)."""
    started = time.perf_counter()
    outcomes = producer.run_batch(batch, cache_first=cache_first, timeout_s=1800)
    elapsed = time.perf_counter() - started
    failed = [o.error for o in outcomes if not o.ok]
    assert not failed, failed[:3]
    return elapsed, sum((o.output or {}).get("answeredBy") == "producer" for o in outcomes)


def noop_seconds(producer: CompletionProducer, batch: Sequence[dict[str, Any]]) -> float:
    """Seconds to send ``llmix.noop`` tasks with the same payloads and collect them the same
    way ``run_batch`` does."""
    started = time.perf_counter()
    queue = producer.settings.worker.queue
    ids = [producer.app.send_task(TASK_NOOP, args=[p], queue=queue).id for p in batch]
    done = producer.collect(producer.batch_of(ids), timeout_s=1800)
    elapsed = time.perf_counter() - started
    assert all(o.ok for o in done.ordered())
    return elapsed


def lookup_rate(producer: CompletionProducer, batch: Sequence[dict[str, Any]]) -> float:
    """Requests/s of ``start_batch`` over an all-cached batch (nothing is sent), from L2: the
    producer's L1 is emptied first, as in a new process."""
    lookup = producer.cache_first
    assert lookup is not None, "cache-first is off"
    lookup.cache.clear_l1()
    started = time.perf_counter()
    result = producer.start_batch(batch, cache_first=True)
    elapsed = time.perf_counter() - started
    assert not result.pending and len(result.outcomes) == len(batch)
    return len(batch) / elapsed


def stub_calls(fleet: LocalFleet) -> int:
    return int(fleet.stub.calls()["total"]) if fleet.stub else 0


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def run(args: argparse.Namespace) -> dict[str, Any]:
    with LocalFleet(stub_latency_ms=0) as fleet:
        for name in ("batch-1", "batch-2"):
            fleet.add_worker(name, concurrency=args.concurrency, loglevel="WARNING")
        settings = fleet.settings()
        prefix, ttl = settings.cache.key_prefix, settings.cache.ttl_s
        client = redis.Redis.from_url(fleet.redis_url)
        producer = CompletionProducer(settings)
        cached = requests(args.requests, "cached")
        fill(client, cached, prefix, ttl)
        noop_seconds(producer, cached[:500])  # warm both paths
        timed_batch(producer, cached[:500], cache_first=False)
        load_before = load()
        task_s, _ = timed_batch(producer, cached, cache_first=False)
        noop_s = noop_seconds(producer, cached)
        firsts = [timed_batch(producer, cached, cache_first=True) for _ in range(args.rounds)]
        first_s = statistics.median(s for s, _ in firsts)
        assert all(answered == len(cached) for _, answered in firsts)
        misses = len(cached) // 10
        calls_before = stub_calls(fleet)
        mixed_first = cached[misses:] + requests(misses, "miss-first")
        mixed_task = cached[misses:] + requests(misses, "miss-task")
        mixed_first_s, answered = timed_batch(producer, mixed_first, cache_first=True)
        calls = stub_calls(fleet) - calls_before
        mixed_task_s, _ = timed_batch(producer, mixed_task, cache_first=False)
        rates = []
        for size in args.sizes:
            batch = requests(size, f"size-{size}")
            fill(client, batch, prefix, ttl)
            rates.append({"batch": size, "requests_per_s": round(
                statistics.median(lookup_rate(producer, batch) for _ in range(3)), 1)})  # fmt: skip
        client.flushdb()  # the sizes' keys; nothing else is measured after this
        load_after = load()
    n = len(cached)
    return {
        "requests": n, "concurrency": args.concurrency, "workers": 2,
        "cache_first_per_s": round(n / first_s, 1), "all_task_per_s": round(n / task_s, 1),
        "noop_per_s": round(n / noop_s, 1), "ratio_vs_noop": round(noop_s / first_s, 2),
        "ratio_vs_all_task": round(task_s / first_s, 2), "target_vs_noop": 10,
        "misses": misses, "provider_calls": calls, "producer_answered": answered,
        "mixed_cache_first_s": round(mixed_first_s, 3), "mixed_all_task_s": round(mixed_task_s, 3),
        "mixed_speedup": round(mixed_task_s / mixed_first_s, 2), "lookup_rates": rates,
        "load_before": load_before, "load_after": load_after,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="cache-first rounds (median)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sizes", default="100,1000,10000,100000",
                        type=lambda s: [int(x) for x in s.split(",")])  # fmt: skip
    parser.add_argument(
        "--record", action="store_true", help="keep the result in docs/explanations/"
    )
    args = parser.parse_args()
    row = run(args)
    if args.record:
        record("batch", row)
    table = Table(
        title=f"batch of {row['requests']:,} requests (2 workers, threads; {row['load_after']})"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    ok = "yes" if row["ratio_vs_noop"] >= 10 else "NO"
    for measure, value, target in [
        ("all cached, cache-first (req/s)", f"{row['cache_first_per_s']:,.0f}", ""),
        ("all cached, every request a task (req/s)", f"{row['all_task_per_s']:,.0f}", ""),
        ("no-op tasks (req/s)", f"{row['noop_per_s']:,.0f}", ""),
        ("cache-first / no-op", f"{row['ratio_vs_noop']:.1f}×", f"≥ 10× ({ok})"),
        ("cache-first / all tasks", f"{row['ratio_vs_all_task']:.1f}×", ""),
        (f"10 % misses, cache-first ({row['misses']:,} provider calls)",
         f"{row['mixed_cache_first_s']:.2f} s", ""),
        ("10 % misses, all tasks", f"{row['mixed_all_task_s']:.2f} s", ""),
        ("10 % misses: all tasks / cache-first", f"{row['mixed_speedup']:.1f}×", ""),
        *[(f"producer lookups, batch of {r['batch']:,} (req/s)", f"{r['requests_per_s']:,.0f}", "")
          for r in row["lookup_rates"]],
    ]:  # fmt: skip
        table.add_row(measure, value, target)
    Console().print(table)
    print(json.dumps({"bench": "batch", **row}))


if __name__ == "__main__":
    main()
