"""The sections of docs/explanations/performance.md: each renders a part of performance.json.

Each takes (section data, plot, table) as performance_doc.py hands them over and returns
Markdown. The prose names the bend found in the figures; the reasons are the mechanisms the
benchmarks isolate (cores, round trips, per-entry work).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inflight_section import inflight

Plot = Callable[..., str]
Table = Callable[[list[str], list[list[Any]]], str]


def _load(section: dict[str, Any]) -> str:
    load = section.get("load_after") or section.get("load")
    text = " ".join(f"{x:.2f}" if isinstance(x, float) else str(x) for x in load) if isinstance(
        load, list) else str(load).removeprefix("load average ")  # fmt: skip
    quick = " (quick run: small sizes)" if section.get("quick") else ""
    return f"_Measured {section.get('measured_at', '?')}, load average after: {text}{quick}._\n"


def _shape(label: str, xs: list[float], ys: list[float]) -> str:
    """Where a curve peaks and where it ends, in words."""
    peak = max(range(len(ys)), key=ys.__getitem__)
    at = [f"{x:,.0f}" for x in xs]
    if peak == 0:
        return f"{label}: highest at {at[0]} ({ys[0]:,.0f}), {ys[-1]:,.0f} at {at[-1]}"
    text = f"{label}: {ys[0]:,.0f} at {at[0]}, peak {ys[peak]:,.0f} at {at[peak]}"
    return text + (f", {ys[-1]:,.0f} at {at[-1]}" if peak != len(ys) - 1 else "")


def _spread(values: list[float]) -> str:
    return f"{min(values):,.0f}–{max(values):,.0f} bytes"


def _spread_rate(values: list[float]) -> str:
    return f"{min(values):,.0f}–{max(values):,.0f} requests/s"


def batch(s: dict[str, Any], plot: Plot, table: Table) -> str:
    rows = [
        ["all cached, cache-first", f"{s['cache_first_per_s']:,.0f} req/s", ""],
        ["all cached, every request a task", f"{s['all_task_per_s']:,.0f} req/s", ""],
        ["no-op tasks (same payloads, same collection)", f"{s['noop_per_s']:,.0f} req/s", ""],
        ["cache-first / no-op", f"{s['ratio_vs_noop']:.1f}×", "≥ 10×"],
        ["cache-first / every request a task", f"{s['ratio_vs_all_task']:.1f}×", ""],
        [f"10 % misses ({s['misses']:,}), cache-first", f"{s['mixed_cache_first_s']:.2f} s", ""],
        ["10 % misses, every request a task", f"{s['mixed_all_task_s']:.2f} s", ""],
        ["10 % misses: speed-up", f"{s['mixed_speedup']:.1f}×", ""],
    ]
    return "\n".join([
        f"## Batch reruns at cache speed ({s['requests']:,} requests)\n", _load(s),
        "`bench/batch_bench.py`: two worker processes (threads, concurrency "
        f"{s['concurrency']}), private Redis, stub provider with latency 0.\n",
        table(["measure", "value", "target"], rows), "",
        "A cache-first batch never touches the broker for a hit: one pipelined MGET per 1,000 "
        "keys, and the producer's own work per request (validation, key, decode, output). With "
        "10 % misses the time is that of the misses' tasks; the hits cost almost nothing.\n",
    ])  # fmt: skip


def chunks(s: dict[str, Any], plot: Plot, table: Table) -> str:
    rows = [[f"{latency} ms", f"{count:,}", r["chunk"], f"{r['s']:.2f}",
             f"{r['requests_per_s']:,.0f}", f"{r['vs_one_per_task']:.2f}×"]
            for latency, count, key in ((0, s["misses"], "fast"),
                                        (s["latency_ms"], s["slow_misses"], "slow"),
                                        (s["latency_ms"], s.get("wide_misses"), "wide"))
            if key in s
            for r in s[key]]  # fmt: skip
    fast = max(r["vs_one_per_task"] for r in s["fast"])
    slow = min(r["vs_one_per_task"] for r in s["slow"])
    wide = s.get("wide") or s["slow"]
    wide_text = ", ".join(
        f"{r['vs_one_per_task']:.2f}× for chunks of {r['chunk']}" for r in wide[1:]
    )
    return "\n".join([
        "## Misses: one task per request, or chunks\n", _load(s),
        "`bench/chunk_bench.py` sends never-seen requests as one `llmix.complete` task each, "
        "and as `llmix.complete_many` chunks (one message, a list of requests, each through "
        "the worker's own cache lookup, single flight and result line), on the same fleet "
        f"(2 processes × {s['concurrency']} threads).\n",
        table(["provider latency", "requests", "chunk", "seconds", "req/s", "vs one each"], rows),
        "",
        f"**Kept: one task per request.** Chunks win only when the provider answers at once "
        f"(up to {fast:.1f}× at latency 0: the broker round trip is the whole cost). With a "
        f"provider that takes time they lose (down to {slow:.2f}×): a chunk's requests run one "
        "after another in one worker thread, so a chunk of 10 waits 10 provider latencies "
        "while 10 single tasks run side by side on idle threads. With many more requests than "
        f"threads ({s.get('wide_misses', s['slow_misses']):,} at {s['latency_ms']} ms) the "
        f"chunks reach {wide_text}: the provider's time dominates both, and big chunks leave "
        "threads idle at the end. Real providers take 0.3–30 s per call against a few ms "
        "of message cost, so the chunk's gain is noise where it matters. And failure "
        "gets worse: a retryable error of one request cannot re-queue that request alone (the "
        "chunk is one task: re-queueing it re-runs its neighbours, failing it loses the "
        "item's retry), a lost worker re-delivers the whole chunk, and the batch summary's "
        "per-request re-queue count and task id no longer exist. The experiment stays in "
        "`bench/chunk_bench.py` (its own worker entry point), not in the package.\n",
    ])  # fmt: skip


def processes(s: dict[str, Any], plot: Plot, table: Table) -> str:
    rows = s["rows"]
    series = {pool: ([r["processes"] for r in rows if r["pool"] == pool],
                     [r["jobs_per_s"] for r in rows if r["pool"] == pool])
              for pool in ("threads", "prefork")}  # fmt: skip
    rate_png = plot("throughput_vs_processes", "cached jobs/s vs worker processes",
                    "worker processes", "cached jobs/s", series)  # fmt: skip
    acks = {pool: ([r["processes"] for r in rows if r["pool"] == pool],
                   [r["clear"]["ack_s"] * 1000 for r in rows if r["pool"] == pool])
            for pool in ("threads", "prefork")}  # fmt: skip
    ack_png = plot("clear_ack_vs_processes", "clear: publish to last acknowledgement",
                   "L1-holding processes", "ms", acks)  # fmt: skip
    shapes = "; ".join(_shape(pool, *series[pool]) for pool in series if series[pool][0])
    ack_range = {pool: (acks[pool][1][0], acks[pool][1][-1]) for pool in acks if acks[pool][0]}
    ack_text = ", ".join(f"{pool} {lo:.1f} → {hi:.1f} ms" for pool, (lo, hi) in ack_range.items())
    body = [[r["pool"], r["processes"], f"{r['jobs_per_s']:,.0f}",
             f"{r['clear']['ack_s'] * 1000:.1f}", f"{r['clear']['total_s'] * 1000:.1f}",
             " ".join(map(str, r["load"]))] for r in rows]  # fmt: skip
    return "\n".join([
        "## Cached-job throughput and clear acknowledgements vs worker processes\n", _load(s),
        "Every job a cache hit, every request a task (`llmix.complete`), 2,000 jobs per round, "
        "median of rounds. Threads: N worker nodes of one process (4 threads) each. Prefork: "
        f"one node with N children. Clear: {rows[0]['clear']['keys']:,} L2 keys, time from "
        "the publish to the last of the N acknowledgements, and the whole clear.\n",
        f"![throughput]({rate_png})\n", f"![clear acknowledgements]({ack_png})\n",
        table(["pool", "processes", "cached jobs/s", "ack ms", "clear ms", "load 1/5/15"], body),
        "",
        f"**Bend:** {shapes}. This machine has {s.get('cores', 2)} cores shared by the "
        "producer, Redis (broker, result backend, L2) and the workers; a cached job is CPU "
        "work (kombu message decode, task dispatch, result write, key, L1 lookup), not "
        "waiting, so past about one worker process per core more processes add context "
        "switches and broker connections, not throughput. Prefork stays flat from one child "
        "on: its node has one consumer, the parent process, which takes every message from "
        "the broker and hands it to a child over a pipe; a cached job is so cheap that the "
        "parent is the bottleneck, while N threads-pool nodes are N consumers (one run; the "
        "load column shows how busy the cores were). "
        f"Acknowledgements grow with the number of processes ({ack_text}): each one gets the "
        "pub/sub message, drops its L1 and pushes its reply, and 8 processes on 2 cores wait "
        "their turn; the whole clear stays in tens of milliseconds.\n",
    ])  # fmt: skip


def clear_keys(s: dict[str, Any], plot: Plot, table: Table) -> str:
    rows = s["rows"]
    png = plot("clear_vs_keys", "fleet clear vs L2 keys (2 processes)", "L2 keys", "seconds",
               {"whole clear": ([r["keys"] for r in rows], [r["total_s"] for r in rows]),
                "L2 part (SCAN + UNLINK)": ([r["keys"] for r in rows], [r["l2_s"] for r in rows])},
               logx=True)  # fmt: skip
    keys, rates = [r["keys"] for r in rows], [r["keys_per_s"] for r in rows]
    body = [[f"{r['keys']:,}", f"{r['fill_s']:.1f}", f"{r['l2_s']:.3f}", f"{r['ack_s'] * 1000:.1f}",
             f"{r['total_s']:.3f}", f"{r['keys_per_s']:,.0f}"] for r in rows]  # fmt: skip
    return "\n".join([
        "## Fleet clear vs L2 keys\n", _load(s),
        "Keys filled with pipelined SETs; two worker processes acknowledge.\n",
        f"![clear]({png})\n",
        table(["L2 keys", "fill s", "L2 part s", "ack ms", "whole s", "keys deleted/s"], body), "",
        f"**Bend:** {_shape('keys deleted/s', keys, rates)}; per key that is "
        f"{1e6 / max(rates):.1f}–{1e6 / min(rates):.1f} µs, so the clear's time is linear in "
        "the keys to within that spread. The fixed part (flag, generation, broadcast, "
        "acknowledgements) is about a millisecond. "
        + (
            f"The smallest size ran at {rates[0] / max(rates):.0%} of the best rate: the "
            "fixed millisecond explains little of that, and with one measurement per size "
            "this run does not isolate the rest. "
            if rates[0] < 0.8 * max(rates)
            else ""
        )
        + (
            "The slower rate at the largest size coincides with a keyspace table of a "
            "million entries being emptied (Redis rehashes it as it shrinks) and with the load "
            "on the cores; this run does not separate the two. "
            if rates[-1] < 0.8 * max(rates)
            else ""
        )
        + "Keys of other prefixes are scanned but never deleted, so a shared Redis adds SCAN "
        "time, not deletions.\n",
    ])  # fmt: skip


def memory(s: dict[str, Any], plot: Plot, table: Table) -> str:
    l1 = [[f"{r['entries']:,}", f"{r['bytes_per_entry']:,.0f}", r["answer_bytes"],
           f"{r['overhead_bytes']:,.0f}"] for r in s["rows"]["l1"]]  # fmt: skip
    l2 = [[f"{r['entries']:,}", r["memory_usage_bytes"], r["value_bytes"], r["key_bytes"],
           f"{r['used_memory_per_entry']:,.0f}"] for r in s["rows"]["l2"]]  # fmt: skip
    l1_sizes = [r["bytes_per_entry"] for r in s["rows"]["l1"]]
    l2_sizes = [r["used_memory_per_entry"] for r in s["rows"]["l2"]]
    one = s["rows"]["l2"][0]
    return "\n".join([
        "## Memory per entry (2 KB answer)\n", _load(s),
        "L1: tracemalloc growth of an L1-only cache per entry (the answer string, the key "
        "held by the LRU, the hit tuple, the usage dict, the LRU's bookkeeping); overhead is "
        "that minus the answer's characters and a str header.\n",
        table(["L1 entries", "bytes/entry", "answer chars", "overhead bytes"], l1), "",
        "L2: `MEMORY USAGE` of one entry (as a worker writes it: data, cached_at, usage, "
        "model) and Redis `used_memory` growth per entry.\n",
        table(["L2 entries", "MEMORY USAGE", "value bytes", "key bytes", "used_memory/entry"], l2),
        "",
        f"**Bend:** none: both are flat per entry ({_spread(l1_sizes)} for L1, "
        f"{_spread(l2_sizes)} for L2 across the sizes), so memory is linear in entries. An "
        f"L1 of the default 1,000 entries holds about {l1_sizes[0] / 1000:,.1f} MB per process "
        "(per prefork child). In L2 an entry takes "
        f"{one['memory_usage_bytes'] - one['value_bytes'] - one['key_bytes']:,} bytes more than "
        "its key and value: the allocator rounds a 2 KB value up to its size class, plus the "
        "key's header, the value object and the keyspace entry (with its expiry).\n",
    ])  # fmt: skip


def lookup(s: dict[str, Any], plot: Plot, table: Table) -> str:
    rows = s["rows"]
    png = plot("lookup_vs_batch", "producer cache-first lookups vs batch size", "batch size",
               "requests/s", {"start_batch, all cached": ([r["batch"] for r in rows],
                                                           [r["requests_per_s"] for r in rows]),
                              "same, garbage collector off": (
                                  [r["batch"] for r in rows if "requests_per_s_gc_off" in r],
                                  [r["requests_per_s_gc_off"] for r in rows
                                   if "requests_per_s_gc_off" in r])},
               logx=True)  # fmt: skip
    body = [[f"{r['batch']:,}", f"{r['requests_per_s']:,.0f}", f"{1e6 / r['requests_per_s']:.0f}",
             f"{r.get('requests_per_s_gc_off', 0):,.0f}", " ".join(map(str, r["load"]))]
            for r in rows]  # fmt: skip
    gc_off = rows[-1].get("requests_per_s_gc_off", 0.0)
    gc_rates = [r.get("requests_per_s_gc_off", 0.0) for r in rows if r["batch"] >= 1000]
    sizes, rates = [r["batch"] for r in rows], [r["requests_per_s"] for r in rows]
    return "\n".join([
        "## Producer lookup rate vs batch size\n", _load(s),
        "`CompletionProducer.start_batch` over an all-cached batch (validate, key, pipelined "
        "MGETs of 1,000 keys in chunks of 2,000 requests, decode, output), the producer's L1 "
        "emptied first as in a new process; median of 3.\n", f"![lookups]({png})\n",
        table(["batch", "requests/s", "µs/request", "req/s, gc off", "load 1/5/15"], body), "",
        f"**Bend:** {_shape('requests/s', sizes, rates)}. The bend is Python's garbage "
        "collector: the batch keeps every output (a dict per request) until it returns, and "
        "the collector's passes walk more live objects as the batch grows. With it off the "
        f"rate stays within {_spread_rate(gc_rates)} from 1,000 requests on, the "
        "per-request CPU cost (validation is the largest share, then the key, the entry "
        "decode and the output; the MGET round trip per 1,000 keys is ~1 ms, and evicting "
        "from the producer's 1,000-entry L1 past that size costs no visible rate). At 100 "
        "requests the fixed cost per chunk (two fleet-state reads, one MGET round trip) is "
        f"shared by few requests. The largest batch runs {gc_off / rates[-1]:.1f}× faster "
        "with the collector off; a producer that must go faster on huge batches could "
        "freeze the collector (`gc.freeze()`) around a batch; this one does not.\n",
    ])  # fmt: skip


SECTIONS = [
    ("batch", batch),
    ("chunks", chunks),
    ("scale_processes", processes),
    ("scale_clear_keys", clear_keys),
    ("scale_memory", memory),
    ("scale_lookup", lookup),
    ("inflight", inflight),
]
