"""The worker processes of bench/inflight_bench.py: a node, the floor, their CPU and RSS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent


@dataclass
class Worker:
    """One worker process (its own process group), started and waited for until ready."""

    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    #: The tree's RSS once ready, before any job (its threads are started as jobs come).
    idle_rss: int = 0

    def start(self, name: str, timeout_s: float = 180.0) -> Worker:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.args,
                env=self.env,
                cwd=BENCH,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.log.read_text()[-2000:]}")
            if f"{name} ready." in self.log.read_text(errors="replace"):
                time.sleep(1)
                self.idle_rss = self.rss()
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


def node_worker(url: str, stub_url: str, pool: str, concurrency: int, workdir: Path) -> Worker:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMIX_")}
    settings = workdir / "settings.toml"
    settings.touch()
    env.update(
        LLMIX_REDIS__URL=url,
        LLMIX_SETTINGS=str(settings),
        PYTHONUNBUFFERED="1",
        LLMIX_LLM__BASE_URLS__OPENAI=f"{stub_url}/v1",
        OPENAI_API_KEY="sk-bench",
    )
    args = [
        sys.executable,
        "-m",
        "llmix_workers",
        "worker",
        "-n",
        "node@bench",
        "--pool",
        pool,
        "-c",
        str(concurrency),
        "-Q",
        "llmix",
        "-l",
        "INFO",
    ]
    return Worker(args, env, workdir / f"node-{pool}-{concurrency}.log")


def floor_worker(url: str, stub_url: str, pool: str, concurrency: int, workdir: Path) -> Worker:
    env = dict(
        os.environ,
        FLOOR_REDIS_URL=url,
        FLOOR_CHAT_URL=f"{stub_url}/v1/chat/completions",
        FLOOR_POOL_SIZE=str(concurrency),
        PYTHONPATH=str(BENCH),
    )
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "inflight_floor",
        "worker",
        "-n",
        "floor@bench",
        "-P",
        pool,
        "-c",
        str(concurrency),
        "-Q",
        "floor",
        "-l",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    return Worker(args, env, workdir / f"floor-{pool}-{concurrency}.log")
