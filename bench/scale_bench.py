"""Scale curves: how each cost grows with the work, written to docs/explanations/performance.json.

On one :class:`LocalFleet` (private Redis, stub provider with latency 0):

- cached-job throughput (``llmix.complete``, every job an L1/L2 hit) vs worker processes
  (1, 2, 4, 8): threads pool (N nodes of one process each) and prefork (one node, N children);
  at each point also a fleet clear's time to the last acknowledgement from N processes;
- a fleet clear vs the number of L2 keys (10k, 100k, 1M, pipelined fill), two worker processes;
- L1 memory per entry (tracemalloc) and L2 bytes per entry (``MEMORY USAGE``, and
  ``used_memory`` growth) for a 2 KB answer;
- the producer's cache-first lookup rate vs batch size (100 … 100k), also with Python's
  garbage collector off (to show its share).

Then bench/performance_doc.py renders the page and the PNG plots from the JSON.

Usage: ``python bench/scale_bench.py [--quick]`` (``--quick``: small sizes, for development).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import performance_doc
import redis
from batch_bench import ANSWER, USAGE, fill, lookup_rate, requests
from fleet_bench import fill as fill_keys
from record import record

from llmix_workers import RedisL2, TwoTierCache, generate_cache_key
from llmix_workers.producer import CompletionProducer
from llmix_workers.settings import CacheSettings, RedisSettings
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.wiring.cache import l2_options
from llmix_workers.wiring.fleet import build_fleet_control
from llmix_workers.worker.tasks import TASK_COMPLETE


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cached_rate(
    producer: CompletionProducer, payloads: Sequence[dict[str, Any]], *, warm: bool = False
) -> float:
    """Cached jobs per second, first send to last result (every request a task); ``warm``: the
    requests may still be misses (this run fills the cache)."""
    started = time.perf_counter()
    queue = producer.settings.worker.queue
    ids = [producer.app.send_task(TASK_COMPLETE, args=[p], queue=queue).id for p in payloads]
    done = producer.collect(producer.batch_of(ids), timeout_s=1800).ordered()
    elapsed = time.perf_counter() - started
    assert all(o.ok and (warm or (o.output or {}).get("cacheHit")) for o in done), done[:1]
    return len(payloads) / elapsed


def clear_to_last_ack(fleet: LocalFleet, processes: int, keys: int = 1000) -> dict[str, Any]:
    """A fleet clear of ``keys`` L2 keys, waiting for ``processes`` acknowledgements."""
    control = build_fleet_control(fleet.settings())
    client = redis.Redis.from_url(fleet.redis_url)
    for _ in range(40):  # members of a stopped node leave, new ones register: wait for N
        fill_keys(client, keys)
        started = time.perf_counter()
        report = control.clear(timeout_s=10)
        total = time.perf_counter() - started
        if report.complete and len(report.acks) == processes:
            return {"processes": processes, "keys": keys, "total_s": round(total, 4),
                    "l2_s": round(report.l2_s, 4), "ack_s": round(report.ack_s, 4)}  # fmt: skip
        time.sleep(0.5)
    raise RuntimeError(f"clear never heard from exactly {processes} processes: {report}")


def process_curve(
    fleet: LocalFleet, pool: str, counts: Sequence[int], jobs: int, rounds: int
) -> list[dict[str, Any]]:
    """Throughput and clear time at each process count for one pool."""
    producer = CompletionProducer(fleet.settings())
    distinct = requests(200, "scale")
    rows = []
    for count in counts:
        for worker in fleet.workers:
            worker.stop()
        fleet.workers.clear()
        if pool == "threads":
            for n in range(count):
                fleet.add_worker(f"t{count}-{n}", pool="threads", concurrency=4, loglevel="WARNING")
        else:
            fleet.add_worker(f"p{count}", pool="prefork", concurrency=count, loglevel="WARNING")
        payloads = [distinct[n % len(distinct)] for n in range(jobs)]
        cached_rate(producer, payloads[: max(400, jobs // 5)], warm=True)
        rates = [cached_rate(producer, payloads) for _ in range(rounds)]
        rate = round(statistics.median(rates), 1)
        rows.append({"pool": pool, "processes": count, "jobs_per_s": rate,
                     "clear": clear_to_last_ack(fleet, count), "load": load()})  # fmt: skip
        print(rows[-1], flush=True)
    for worker in fleet.workers:
        worker.stop()
    fleet.workers.clear()
    return rows


def clear_vs_keys(fleet: LocalFleet, sizes: Sequence[int]) -> list[dict[str, Any]]:
    for n in range(2):
        fleet.add_worker(f"clear-{n}", concurrency=2, loglevel="WARNING")
    client = redis.Redis.from_url(fleet.redis_url)
    control = build_fleet_control(fleet.settings())
    rows = []
    for size in sizes:
        started = time.perf_counter()
        fill_keys(client, size)
        filled = time.perf_counter() - started
        started = time.perf_counter()
        report = control.clear(timeout_s=60)
        total = time.perf_counter() - started
        assert report.complete and report.l2_deleted == size, report
        rows.append({"keys": size, "fill_s": round(filled, 3), "total_s": round(total, 4),
                     "l2_s": round(report.l2_s, 4), "ack_s": round(report.ack_s, 4),
                     "keys_per_s": round(size / report.l2_s, 1), "load": load()})  # fmt: skip
        print(rows[-1], flush=True)
    for worker in fleet.workers:
        worker.stop()
    fleet.workers.clear()
    return rows


def l1_bytes_per_entry(entries: int) -> dict[str, Any]:
    """tracemalloc growth of an L1-only cache holding ``entries`` 2 KB answers, per entry."""
    cache = TwoTierCache("memory", CacheSettings(l1_max_entries=entries))
    keys = [generate_cache_key({"model": "m", "seed": n}) for n in range(entries)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for key in keys:
        cache.set(key, ANSWER[:-1] + "!", extra={"usage": dict(USAGE)})  # a new string each
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    per_entry = grown / entries
    overhead = per_entry - len(ANSWER) - 49  # 49: the header of a compact ASCII str
    return {"entries": entries, "bytes_per_entry": round(per_entry, 1),
            "answer_bytes": len(ANSWER), "overhead_bytes": round(overhead, 1)}  # fmt: skip


def l2_bytes_per_entry(url: str, entries: int) -> dict[str, Any]:
    """``MEMORY USAGE`` of one entry and ``used_memory`` growth per entry over ``entries``."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    cache = TwoTierCache("redis", CacheSettings(), l2=RedisL2(url, **l2_options(RedisSettings())))
    base = int(client.info("memory")["used_memory"])
    batch = requests(entries, "memory")
    fill(client, batch, cache.key_prefix, cache.ttl_s)
    grown = int(client.info("memory")["used_memory"]) - base
    key = next(iter(client.scan_iter(match=cache.key_prefix + "*", count=10)))
    usage = client.memory_usage(key, samples=0)
    value = len(client.get(key) or b"")
    cache.close()
    client.flushdb()
    return {"entries": entries, "memory_usage_bytes": usage, "value_bytes": value,
            "key_bytes": len(key), "used_memory_per_entry": round(grown / entries, 1)}  # fmt: skip


def lookup_curve(fleet: LocalFleet, sizes: Sequence[int]) -> list[dict[str, Any]]:
    settings = fleet.settings()
    producer = CompletionProducer(settings)
    client = redis.Redis.from_url(fleet.redis_url)
    rows = []
    for size in sizes:
        batch = requests(size, f"lookup-{size}")
        fill(client, batch, settings.cache.key_prefix, settings.cache.ttl_s)
        rates = [lookup_rate(producer, batch) for _ in range(3)]
        gc.disable()
        try:
            rates_gc_off = [lookup_rate(producer, batch) for _ in range(3)]
        finally:
            gc.enable()
        rows.append({"batch": size, "requests_per_s": round(statistics.median(rates), 1),
                     "requests_per_s_gc_off": round(statistics.median(rates_gc_off), 1),
                     "load": load()})  # fmt: skip
        print(rows[-1], flush=True)
        client.flushdb()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (development)")
    parser.add_argument("--only", default="", help="comma-separated sections to (re)measure")
    args = parser.parse_args()
    quick = args.quick
    counts = [1, 2] if quick else [1, 2, 4, 8]
    jobs, rounds = (300, 1) if quick else (2000, 3)
    key_sizes = [10_000, 50_000] if quick else [10_000, 100_000, 1_000_000]
    batch_sizes = [100, 1000, 10_000] if quick else [100, 1000, 10_000, 100_000]
    sections: dict[str, Callable[[LocalFleet], Any]] = {
        "scale_processes": lambda f: (
            process_curve(f, "threads", counts, jobs, rounds)
            + process_curve(f, "prefork", counts, jobs, rounds)
        ),
        "scale_clear_keys": lambda f: clear_vs_keys(f, key_sizes),
        "scale_memory": lambda f: {
            "l1": [l1_bytes_per_entry(n) for n in ([1000] if quick else [1000, 10_000, 100_000])],
            "l2": [
                l2_bytes_per_entry(f.redis_url, n) for n in ([1000] if quick else [10_000, 100_000])
            ],
        },  # fmt: skip
        "scale_lookup": lambda f: lookup_curve(f, batch_sizes),
    }
    wanted = [s for s in args.only.split(",") if s] or list(sections)
    with LocalFleet(stub_latency_ms=0) as fleet:
        for name in wanted:
            started_load = load()
            result = sections[name](fleet)
            record(name, {"rows": result, "quick": quick, "load_before": started_load,
                          "load_after": load(), "cores": os.cpu_count()})  # fmt: skip
    performance_doc.main()


if __name__ == "__main__":
    main()
