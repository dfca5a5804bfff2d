"""The miss path at production concurrency: a node's jobs/s against Little's law and the floor.

For each point (C slots, provider latency L), in one run on one private Redis and one stub
provider (its own process, answering every request after L):

- **node**: ``llmix-workers worker --pool P -c C``, every job a cache miss (distinct requests):
  key, L1, L2, fleet lock, breaker, AIMD window, provider call, L2 write, result;
- **floor**: plain Celery (``bench/inflight_floor.py``), same pool and concurrency, same
  delivery settings, one urllib3 call per task.

Each run sends ``--waves`` × C jobs at once. jobs/s is the steady rate: completions between
the C-th and the (N−C)-th (by the result backend's ``date_done``) over the time between them,
so the first wave's ramp and the last wave's drain are left out (the whole-run rate is kept
too). Ratios: jobs/s ÷ (C / L), and node ÷ floor. CPU ms per job: the worker's process tree
(user + system) from the first send to the last result, divided by the jobs. RSS per in-flight
call: the tree's peak RSS during the run minus its RSS once started (before its first job; the
threads pool starts its threads as jobs come), divided by the calls in flight at the steady rate
(jobs/s × L, at most C). Each node run also checks that
the provider saw exactly one call per job and counts L2 errors in the worker's log.

Usage: ``python bench/inflight_bench.py [--points 64:1,256:1,...] [--pool threads] [--record]``.
``--record`` writes the ``inflight`` section of docs/explanations/performance.json and
regenerates the page.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import redis
from celery import Celery
from inflight_breakdown import breakdown
from inflight_floor import TASK_FLOOR
from inflight_workers import Worker, floor_worker, node_worker
from rich.console import Console
from rich.table import Table

from llmix_workers.testing.redis_server import PrivateRedis, free_port
from llmix_workers.testing.stub import StubControl
from llmix_workers.worker.tasks import TASK_COMPLETE

POINTS = "64:1,256:1,1024:1,64:4,256:4,1024:4"
TARGETS = {(256, 1.0): 0.8, (1024, 4.0): 0.8}
FLOOR_SHARE = 0.9


def payloads(count: int, tag: str) -> list[dict[str, Any]]:
    return [
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": f"Run {tag}, question {n}: what is {n} squared?"},
            ],
            "temperature": 0.2,
        }
        for n in range(count)
    ]


def measure(
    worker: Worker,
    app: Celery,
    task: str,
    jobs: list[dict[str, Any]],
    client: redis.Redis,
    c: int,
    latency_s: float,
) -> dict[str, Any]:
    """Send every job at once, wait for every result, compute the rates (see module doc)."""
    rss_before, cpu_before = worker.rss(), worker.cpu_s()
    idle = worker.idle_rss or rss_before
    psutil.cpu_percent()
    started = time.time()
    queue = "llmix" if task == TASK_COMPLETE else "floor"
    keys = [f"celery-task-meta-{app.send_task(task, args=[p], queue=queue).id}" for p in jobs]
    peak, clients = rss_before, 0
    deadline = time.monotonic() + 120 + 20 * len(jobs) / c
    while int(client.exists(*keys)) < len(keys):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{task}: results missing after the deadline")
        peak = max(peak, worker.rss())
        clients = max(clients, int(client.info("clients")["connected_clients"]))
        time.sleep(0.2)
    after = worker.cpu_s()
    user, system = after[0] - cpu_before[0], after[1] - cpu_before[1]
    busy = psutil.cpu_percent()
    metas = [json.loads(raw) for raw in client.mget(keys) if raw is not None]
    failed = [m for m in metas if m["status"] != "SUCCESS"]
    if failed or len(metas) != len(jobs):
        raise RuntimeError(f"{len(failed)} {task} jobs failed: {failed[:1]}")
    done = sorted(datetime.fromisoformat(m["date_done"]).timestamp() for m in metas)
    n = len(done)
    steady = (n - 2 * c) / (done[n - c - 1] - done[c - 1])
    cpu_ms = (user + system) * 1000 / n
    in_flight = min(c, steady * latency_s)  # Little's law: calls in flight at the steady rate
    return {
        "jobs": n,
        "jobs_per_s": round(steady, 1),
        "whole_jobs_per_s": round(n / (done[-1] - started), 1),
        "cpu_ms_per_job": round(cpu_ms, 2),
        "one_core_jobs_per_s": round(1000 / cpu_ms, 1),
        "system_cpu_share": round(system / (user + system), 2),
        "in_flight": round(in_flight),
        "rss_per_call_kb": round((peak - idle) / in_flight / 1024, 1),
        "idle_rss_mb": round(idle / 2**20, 1),
        "rss_mb": round(peak / 2**20, 1),
        "machine_busy_pct": busy,
        "redis_clients": clients,
    }


def run_point(
    kind: str,
    worker: Worker,
    app: Celery,
    client: redis.Redis,
    control: StubControl,
    c: int,
    latency_s: float,
    waves: int,
) -> dict[str, Any]:
    """One (C, L) point on a started worker; for a node, also what the provider and L2 saw."""
    control.script(latency_ms=int(latency_s * 1000))
    load = [round(x, 2) for x in os.getloadavg()]
    calls_before = control.calls()["total"]
    jobs = payloads(waves * c, uuid.uuid4().hex[:8])
    task = TASK_COMPLETE if kind == "node" else TASK_FLOOR
    row = measure(worker, app, task, jobs, client, c, latency_s)
    calls = control.calls()["total"] - calls_before
    row.update(
        kind=kind,
        concurrency=c,
        latency_s=latency_s,
        load_before=load,
        provider_calls=calls,
        ratio_to_little=round(row["jobs_per_s"] * latency_s / c, 3),
    )
    if kind == "node":
        log = worker.log.read_text(errors="replace")
        row["l2_errors"] = sum(log.count(f"L2 {what}") for what in ("read failed", "write failed"))
        if calls != len(jobs):
            raise RuntimeError(f"{calls} provider calls for {len(jobs)} distinct misses")
    print(json.dumps({"bench": "inflight", **row}), flush=True)
    return row


def run(args: argparse.Namespace) -> dict[str, Any]:
    points = [(int(c), float(lat)) for c, lat in (p.split(":") for p in args.points.split(","))]
    rows: list[dict[str, Any]] = []
    workdir = Path(tempfile.mkdtemp(prefix="llmix-inflight-"))
    port = free_port()
    stub = subprocess.Popen(
        [sys.executable, "-m", "llmix_workers", "stub-provider", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stub.stdout is not None
    stub.stdout.readline()
    stub_url = f"http://127.0.0.1:{port}"
    control = StubControl(stub_url)
    load_before = [round(x, 2) for x in os.getloadavg()]
    parts: dict[str, float] = {}
    try:
        # Redis' own default maxclients (the private server's 2,000 is for tests): at C = 1,024
        # a node holds up to three connections per task thread at once (its L2 connection, a
        # fleet-lock borrow, Celery storing a result), as docs/guides/sizing.md says.
        with PrivateRedis(extra_args=["--maxclients", "10000"]) as server:
            client = redis.Redis.from_url(server.url)
            app = Celery(
                "inflight-bench", broker=server.url, backend=server.url, set_as_current=False
            )
            control.script(latency_ms=0)
            parts = breakdown(server.url, stub_url)
            print(json.dumps({"bench": "inflight_breakdown", **parts}), flush=True)
            for c in sorted({c for c, _ in points}):
                for kind in args.kinds.split(","):
                    build = node_worker if kind == "node" else floor_worker
                    worker = build(server.url, stub_url, args.pool, c, workdir)
                    client.flushall()
                    worker.start(f"{kind}@bench")
                    try:
                        rows += [
                            run_point(kind, worker, app, client, control, c, latency, args.waves)
                            for cc, latency in points
                            if cc == c
                        ]
                    finally:
                        worker.stop()
    finally:
        stub.terminate()
        stub.wait(10)
    for row in rows:
        floor = [
            r
            for r in rows
            if r["kind"] == "floor"
            and (r["concurrency"], r["latency_s"]) == (row["concurrency"], row["latency_s"])
        ]
        if floor and row["kind"] == "node":
            row["ratio_to_floor"] = round(row["jobs_per_s"] / floor[0]["jobs_per_s"], 3)
    return {
        "breakdown_us": parts,
        "pool": args.pool,
        "waves": args.waves,
        "cores": os.cpu_count(),
        "rows": rows,
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def show(result: dict[str, Any]) -> None:
    table = Table(title=f"miss path: jobs/s vs C / L and vs the floor ({result['pool']} pool)")
    for column in (
        "C",
        "L s",
        "kind",
        "jobs/s",
        "÷ C/L",
        "÷ floor",
        "target",
        "CPU ms/job",
        "1 core: jobs/s",
        "RSS KB/call",
        "L2 errors",
        "load",
    ):
        table.add_column(column, justify="right")
    for r in result["rows"]:
        target = TARGETS.get((r["concurrency"], r["latency_s"]))
        text = ""
        if r["kind"] == "node":
            text = (f"≥ {target} C/L, " if target else "") + f"≥ {FLOOR_SHARE} floor"
        table.add_row(
            str(r["concurrency"]),
            f"{r['latency_s']:g}",
            r["kind"],
            f"{r['jobs_per_s']:.1f}",
            f"{r['ratio_to_little']:.2f}",
            f"{r['ratio_to_floor']:.2f}" if "ratio_to_floor" in r else "",
            text,
            f"{r['cpu_ms_per_job']:.2f}",
            f"{r['one_core_jobs_per_s']:.0f}",
            f"{r['rss_per_call_kb']:.0f}",
            str(r.get("l2_errors", "")),
            " ".join(map(str, r["load_before"])),
        )
    Console(width=180).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", default=POINTS, help="C:L pairs (slots:latency seconds)")
    parser.add_argument(
        "--pool",
        default="threads",
        choices=["threads", "prefork", "gevent"],
        help="gevent: the floor only (the node has no gevent pool)",
    )
    parser.add_argument("--kinds", default="floor,node", help="floor, node or both")
    parser.add_argument("--waves", type=int, default=4, help="jobs sent = waves × C")
    parser.add_argument(
        "--record", action="store_true", help="write docs/explanations/performance.json"
    )
    args = parser.parse_args()
    result = run(args)
    show(result)
    if args.record:
        import performance_doc
        from record import record

        record("inflight", result)
        performance_doc.main()


if __name__ == "__main__":
    main()
