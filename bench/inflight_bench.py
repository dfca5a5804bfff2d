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
call: the tree's peak RSS during the run minus its RSS just before, divided by C.

Usage: ``python bench/inflight_bench.py [--points 64:1,256:1,...] [--pool threads] [--record]``.
``--record`` writes the ``inflight`` section of docs/performance.json and regenerates the page.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import redis
from celery import Celery
from rich.console import Console
from rich.table import Table

from llmix_workers.testing.redis_server import PrivateRedis, free_port
from llmix_workers.testing.stub import StubControl

BENCH = Path(__file__).resolve().parent
POINTS = "64:1,256:1,1024:1,64:4,256:4,1024:4"
TARGETS = {(256, 1.0): 0.8, (1024, 4.0): 0.8}
FLOOR_SHARE = 0.9


@dataclass
class Worker:
    """One worker process (its own process group), started and waited for until ready."""

    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, name: str, timeout_s: float = 180.0) -> Worker:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(self.args, env=self.env, cwd=BENCH, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.log.read_text()[-2000:]}")
            if f"{name} ready." in self.log.read_text(errors="replace"):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"{name} not ready: {self.log.read_text()[-2000:]}")

    def tree(self) -> list[psutil.Process]:
        assert self.process is not None
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def cpu_s(self) -> tuple[float, float]:
        """User and system CPU seconds of the whole process tree."""
        user = system = 0.0
        for proc in self.tree():
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            user, system = user + times.user, system + times.system
        return user, system

    def rss(self) -> int:
        total = 0
        for proc in self.tree():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)


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


def measure(worker: Worker, app: Celery, task: str, queue: str, jobs: list[dict[str, Any]],
            client: redis.Redis, concurrency: int) -> dict[str, Any]:  # fmt: skip
    """Send every job at once, wait for every result, compute the rates (see module doc)."""
    rss_before, cpu_before = worker.rss(), worker.cpu_s()
    profile = os.environ.get("INFLIGHT_PROFILE")  # a folder: py-spy collapsed stacks per run
    spy = None
    if profile and worker.process is not None:
        out = Path(profile) / f"{task}-{concurrency}-{len(jobs)}.txt"
        spy = subprocess.Popen(["py-spy", "record", "-p", str(worker.process.pid), "-f", "raw",
                                "-o", str(out), "-r", "100", "--subprocesses"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    psutil.cpu_percent()
    started = time.time()
    ids = [app.send_task(task, args=[p], queue=queue).id for p in jobs]
    keys = [f"celery-task-meta-{i}" for i in ids]
    peak = rss_before
    deadline = time.monotonic() + 60 + 20 * len(jobs) / concurrency * 4
    while int(client.exists(*keys)) < len(keys):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{task}: results missing after the deadline")
        peak = max(peak, worker.rss())
        time.sleep(0.2)
    user, system = (after - before for after, before in zip(worker.cpu_s(), cpu_before, strict=True))
    cpu = user + system
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    busy = psutil.cpu_percent()
    metas = [json.loads(raw) for raw in client.mget(keys) if raw is not None]
    failed = [m for m in metas if m["status"] != "SUCCESS"]
    if failed:
        raise RuntimeError(f"{len(failed)} {task} jobs failed: {failed[0].get('result')}")
    done = sorted(datetime.fromisoformat(m["date_done"]).timestamp() for m in metas)
    n, c = len(done), concurrency
    if profile:
        Path(profile, f"{task}-{concurrency}-{len(jobs)}.done").write_text(
            "\n".join(f"{t - started:.3f}" for t in done))
    steady = (n - 2 * c) / (done[n - c - 1] - done[c - 1]) if n > 2 * c else n / (done[-1] - started)
    return {
        "jobs": n,
        "jobs_per_s": round(steady, 1),
        "whole_jobs_per_s": round(n / (done[-1] - started), 1),
        "cpu_ms_per_job": round(cpu * 1000 / n, 2),
        "system_cpu_share": round(system / cpu, 2) if cpu else 0.0,
        "rss_per_call_kb": round((peak - rss_before) / c / 1024, 1),
        "rss_mb": round(peak / 2**20, 1),
        "rss_per_slot_kb": round(peak / c / 1024, 1),
        "machine_busy_pct": busy,
    }


def node_worker(url: str, stub_url: str, pool: str, concurrency: int, workdir: Path) -> Worker:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMIX_")}
    settings = workdir / "settings.toml"
    settings.touch()
    env.update(LLMIX_REDIS__URL=url, LLMIX_SETTINGS=str(settings), PYTHONUNBUFFERED="1",
               LLMIX_LLM__BASE_URLS__OPENAI=f"{stub_url}/v1", OPENAI_API_KEY="sk-bench")  # fmt: skip
    entry = os.environ.get("INFLIGHT_NODE_ENTRY")  # a script in place of -m llmix_workers
    args = [sys.executable, *([entry] if entry else ["-m", "llmix_workers"]), "worker", "-n", "node@bench", "--pool", pool,
            "-c", str(concurrency), "-Q", "llmix", "-l", "INFO"]  # fmt: skip
    return Worker(args, env, workdir / f"node-{pool}-{concurrency}.log")


def floor_worker(url: str, stub_url: str, pool: str, concurrency: int, workdir: Path) -> Worker:
    env = dict(os.environ, FLOOR_REDIS_URL=url, FLOOR_CHAT_URL=f"{stub_url}/v1/chat/completions",
               FLOOR_POOL_SIZE=str(concurrency), PYTHONPATH=str(BENCH))  # fmt: skip
    args = [sys.executable, "-m", "celery", "-A", "inflight_floor", "worker", "-n", "floor@bench",
            "-P", pool, "-c", str(concurrency), "-Q", "floor", "-l", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    return Worker(args, env, workdir / f"floor-{pool}-{concurrency}.log")


def run(args: argparse.Namespace) -> dict[str, Any]:
    points = [(int(c), float(lat)) for c, lat in (p.split(":") for p in args.points.split(","))]
    kinds = args.kinds.split(",")
    rows: list[dict[str, Any]] = []
    workdir = Path(tempfile.mkdtemp(prefix="llmix-inflight-"))
    port = free_port()
    stub = subprocess.Popen([sys.executable, "-m", "llmix_workers", "stub-provider", "--port",
                             str(port)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert stub.stdout is not None
    stub.stdout.readline()
    stub_url = f"http://127.0.0.1:{port}"
    control = StubControl(stub_url)
    try:
        with PrivateRedis() as server:
            client = redis.Redis.from_url(server.url)
            app = Celery("inflight-bench", broker=server.url, backend=server.url,
                         set_as_current=False)  # fmt: skip
            for concurrency in sorted({c for c, _ in points}):
                for kind in kinds:
                    build = node_worker if kind == "node" else floor_worker
                    worker = build(server.url, stub_url, args.pool, concurrency, workdir)
                    client.flushall()
                    worker.start(f"{kind}@bench")
                    try:
                        for c, latency in points:
                            if c != concurrency:
                                continue
                            control.script(latency_ms=int(latency * 1000))
                            load = [round(x, 2) for x in os.getloadavg()]
                            jobs = payloads(args.waves * c, uuid.uuid4().hex[:8])
                            task, queue = ("llmix.complete", "llmix") if kind == "node" else (
                                "floor.call", "floor")  # fmt: skip
                            row = measure(worker, app, task, queue, jobs, client, c)
                            row.update(kind=kind, pool=args.pool, concurrency=c,
                                       latency_s=latency, load_before=load,
                                       ratio_to_little=round(row["jobs_per_s"] / (c / latency), 3))  # fmt: skip
                            rows.append(row)
                            print(json.dumps({"bench": "inflight", **row}), flush=True)
                    finally:
                        worker.stop()
    finally:
        stub.terminate()
        stub.wait(10)
    for row in rows:
        floor = next((r for r in rows if r["kind"] == "floor" and r["concurrency"] ==
                      row["concurrency"] and r["latency_s"] == row["latency_s"]), None)  # fmt: skip
        if floor is not None and row["kind"] == "node":
            row["ratio_to_floor"] = round(row["jobs_per_s"] / floor["jobs_per_s"], 3)
    return {"pool": args.pool, "waves": args.waves, "cores": os.cpu_count(), "rows": rows,
            "load_after": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip


def show(result: dict[str, Any]) -> None:
    table = Table(title=f"miss path: jobs/s vs C / L and vs the floor ({result['pool']} pool)")
    for column in ("C", "L s", "kind", "jobs/s", "÷ C/L", "÷ floor", "target", "CPU ms/job",
                   "RSS KB/call", "whole jobs/s", "load"):  # fmt: skip
        table.add_column(column, justify="right")
    for r in result["rows"]:
        target = TARGETS.get((r["concurrency"], r["latency_s"]))
        text = ""
        if r["kind"] == "node":
            text = f"≥ {target} C/L, " if target else ""
            text += f"≥ {FLOOR_SHARE} floor"
        table.add_row(str(r["concurrency"]), f"{r['latency_s']:g}", r["kind"],
                      f"{r['jobs_per_s']:.1f}", f"{r['ratio_to_little']:.2f}",
                      f"{r['ratio_to_floor']:.2f}" if "ratio_to_floor" in r else "", text,
                      f"{r['cpu_ms_per_job']:.2f}", f"{r['rss_per_call_kb']:.0f}",
                      f"{r['whole_jobs_per_s']:.1f}", " ".join(map(str, r["load_before"])))  # fmt: skip
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", default=POINTS, help="C:L pairs (slots:latency seconds)")
    parser.add_argument("--pool", default="threads", choices=["threads", "prefork", "gevent"])
    parser.add_argument("--kinds", default="floor,node", help="floor, node or both")
    parser.add_argument("--waves", type=int, default=4, help="jobs sent = waves × C")
    parser.add_argument("--record", action="store_true", help="write docs/performance.json")
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
