"""The miss-path section of docs/explanations/performance.md (from bench/inflight_bench.py's
``inflight`` data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Plot = Callable[..., str]
Table = Callable[[list[str], list[list[Any]]], str]


def _pair(rows: list[dict[str, Any]], c: int, latency: float) -> tuple[dict[str, Any], ...]:
    found = {r["kind"]: r for r in rows if (r["concurrency"], r["latency_s"]) == (c, latency)}
    return found.get("floor", {}), found.get("node", {})


def inflight(s: dict[str, Any], plot: Plot, table: Table) -> str:
    rows = s["rows"]
    points = sorted({(r["latency_s"], r["concurrency"]) for r in rows})
    latencies = sorted({latency for latency, _ in points})
    rate: dict[str, tuple[list[float], list[float]]] = {}
    ratio: dict[str, tuple[list[float], list[float]]] = {}
    for latency in latencies:
        for kind in ("node", "floor"):
            mine = sorted((r["concurrency"], r) for r in rows
                          if r["kind"] == kind and r["latency_s"] == latency)  # fmt: skip
            xs = [c for c, _ in mine]
            rate[f"{kind}, L = {latency:g} s"] = (xs, [r["jobs_per_s"] for _, r in mine])
            ratio[f"{kind}, L = {latency:g} s"] = (xs, [r["ratio_to_little"] for _, r in mine])
    rate_png = plot("inflight_jobs_vs_c", "cache misses: jobs/s of one node vs C",
                    "C (threads, calls in flight)", "jobs/s", rate, logx=True)  # fmt: skip
    ratio_png = plot("inflight_ratio_vs_c", "jobs/s ÷ (C / L): Little's law = 1",
                     "C (threads, calls in flight)", "ratio", ratio, logx=True)  # fmt: skip
    body = []
    for latency, c in points:
        floor, node = _pair(rows, c, latency)
        body.append([
            c, f"{latency:g}", f"{c / latency:,.0f}",
            f"{floor.get('jobs_per_s', 0):,.1f} ({floor.get('ratio_to_little', 0):.2f})",
            f"{node.get('jobs_per_s', 0):,.1f} ({node.get('ratio_to_little', 0):.2f})",
            f"{node.get('ratio_to_floor', 0):.2f}",
            f"{floor.get('cpu_ms_per_job', 0):.2f} / {node.get('cpu_ms_per_job', 0):.2f}",
            f"{floor.get('one_core_jobs_per_s', 0):,.0f} / "
            f"{node.get('one_core_jobs_per_s', 0):,.0f}",
            f"{floor.get('rss_per_call_kb', 0):,.0f} / {node.get('rss_per_call_kb', 0):,.0f}",
            node.get("l2_errors", ""), " ".join(map(str, node.get("load_before", []))),
        ])  # fmt: skip
    header = ["C", "L s", "C / L", "floor jobs/s (÷ C/L)", "node jobs/s (÷ C/L)",
              "node ÷ floor", "CPU ms/job floor / node", "one core: jobs/s floor / node",
              "RSS KB per call floor / node", "L2 errors", "load before"]  # fmt: skip
    nodes = [r for r in rows if r["kind"] == "node"]
    rss = [r["rss_per_call_kb"] for r in nodes]
    cpu = [r["cpu_ms_per_job"] for r in nodes]
    floor_cpu = [r["cpu_ms_per_job"] for r in rows if r["kind"] == "floor"]
    return "\n".join([
        "## Cache misses at production concurrency: one node vs Little's law\n",
        _load(s),
        "`bench/inflight_bench.py`: one worker node (`llmix-workers worker --pool "
        f"{s['pool']} -c C`) and, beside it in the same run, the floor: plain Celery, same "
        "pool, concurrency and delivery settings, a task that makes one urllib3 call "
        "(`bench/inflight_floor.py`). Private Redis (broker, results, L2, fleet state); the "
        "stub provider in its own process answers every request after L. Each point sends "
        f"{s['waves']} × C distinct requests at once (every job a miss: key, L1, L2, fleet "
        "lock, breaker, AIMD window, call, L2 write); jobs/s is the rate between the C-th "
        "and the (N − C)-th completion, so the first wave's ramp and the last one's drain "
        "are left out. CPU is the worker's (user + system) per job; \"one core\" is "
        "1000 ÷ that: the most one process can finish a second. RSS per call is the "
        "worker's peak RSS during the run minus its RSS once started (before its first "
        "job), divided by the calls in flight at the steady rate (jobs/s × L, at most C).\n",
        f"![jobs/s]({rate_png})\n", f"![ratio]({ratio_png})\n",
        table(header, body), "",
        "**Why the curve flattens:** a threads-pool node is one Python process, so its "
        "Python code runs on one core at a time whatever the number of threads, and the "
        'rate cannot pass the "one core" column. Where C / L is below it, the node keeps '
        "its C calls in flight and follows Little's law; where C / L is above it, the node "
        "and the floor are both CPU-bound on that core, and their rates stand as their CPU "
        "per job. Plain Celery already spends "
        f"{min(floor_cpu):.1f}–{max(floor_cpu):.1f} ms of CPU per job here (message decode, "
        "the Redis transport's unacked-message bookkeeping, result write and ack, thread "
        f"hand-offs); a miss through the node costs {min(cpu):.1f}–{max(cpu):.1f} ms. "
        + _breakdown(s.get("breakdown_us")) +
        "Threads waiting on the provider cost no CPU. Memory stays bounded: "
        f"{min(rss):,.0f}–{max(rss):,.0f} KB of RSS per call in flight (a thread's stack "
        "pages, its L2 and HTTP connections, the reserved message; answers are read up to "
        "16 MiB, never into an unbounded buffer). "
        + _peaks(nodes) + "\n",
        FLOOR_PROFILE,
    ])  # fmt: skip


#: Why plain Celery itself falls short of C / L where it does (a profile, taken by hand).
FLOOR_PROFILE = (
    "**Why plain Celery falls short at C = 256, L = 1 s** (0.75–0.81 of C / L over three "
    "runs on 2026-12-03 and 07, while its CPU per job would allow 300–360 jobs/s): "
    "`py-spy record --gil` on the floor's worker at that point (10 s, the samples of whichever "
    "thread holds the interpreter lock) finds 69 % of them in Celery's consumer, the one "
    "event-loop thread that takes every message (`BRPOP` read 37 %, of which kombu's "
    "unacknowledged-message record 17 %), receives the task (13 %) and runs every "
    "acknowledgement (20 %, a Redis transaction each), and 27 % in the 256 pool threads "
    "running tasks. Each job costs that one thread three blocking Redis round trips, and "
    "after each it waits to get the interpreter lock back from the pool's threads: plain "
    "Celery's rate at this point is its consumer thread's, and the node, on the same "
    "consumer, meets it (÷ floor 1.00).\n"
)


def _breakdown(parts: dict[str, float] | None) -> str:
    if not parts:
        return ""
    python = parts["node_no_redis"] - parts["floor_call"]
    redis = parts["node"] - parts["node_no_redis"]
    return (
        "Measured in the same run in one thread without Celery (stub at latency 0), the "
        f"floor's call costs {parts['floor_call']:,.0f} µs of CPU and the node's path "
        f"{parts['node']:,.0f} µs: {python:,.0f} µs for the request's validation, cache key, "
        "single flight, breaker, AIMD window and output, and "
        f"{redis:,.0f} µs for four Redis round trips (L2 GET, fleet lock SET NX, L2 SET, "
        "lock release EVALSHA, each a raw command on a pooled connection). Under hundreds of "
        "threads each blocking round trip costs more again, as the threads hand the "
        "interpreter lock over. "
    )


def _peaks(nodes: list[dict[str, Any]]) -> str:
    if not nodes or "redis_clients" not in nodes[0]:
        return ""
    top = max(nodes, key=lambda r: r["redis_clients"])
    return (
        f"At its busiest (C = {top['concurrency']:,}, L = {top['latency_s']:g} s, "
        f"{top.get('in_flight', top['concurrency']):,} calls in flight) the node held "
        f"{top['redis_clients']:,} Redis connections with the bench's own (L2 one per thread, "
        f"the fleet, result and broker pools) and {top['rss_mb']:,.0f} MB of RSS."
    )


def _load(section: dict[str, Any]) -> str:
    load = " → ".join(" ".join(f"{x:.2f}" for x in section[key])
                      for key in ("load_before", "load_after") if key in section)  # fmt: skip
    return f"_Measured {section.get('measured_at', '?')}, load average: {load}._\n"
