"""LocalFleet: real worker processes on this machine, for the demo, the tests and benchmarks.

It owns a Redis (a private ``redis-server`` unless a URL is given), optionally the stub provider
(a real HTTP server on loopback), and any number of ``llmix-workers worker`` processes, each
started with ``python -m llmix_workers`` in its own process group so it can be stopped, killed
(SIGKILL) or frozen (SIGSTOP) as a whole, prefork children included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from llmix_workers.errors import LlmixError
from llmix_workers.llm.registry import BUILTIN_PROVIDERS
from llmix_workers.settings import Settings, load_settings
from llmix_workers.testing.process_group import group_running
from llmix_workers.testing.redis_server import PrivateRedis, free_port
from llmix_workers.testing.server import PrivateServer
from llmix_workers.testing.stub import StubProvider
from llmix_workers.testing.waiting import eventually
from llmix_workers.worker.app import create_app

STUB_KEY = "sk-local-stub"


class WorkerDidNotStart(LlmixError):
    """Raised when a worker process exits or stays silent instead of reporting ready."""


class LocalWorker:
    """One ``llmix-workers worker`` process (node name ``name@llmix``); with ``celery_cli``,
    one ``celery -A llmix_workers.celery_app worker`` process instead (Celery's own CLI, the
    pool and concurrency also given through the environment, as Celery lets settings win).
    ``launcher`` replaces ``python -m llmix_workers`` (a wrapper module that prepares the
    process, then runs the same CLI)."""

    def __init__(
        self,
        name: str,
        env: Mapping[str, str],
        workdir: Path,
        *,
        pool: str = "threads",
        concurrency: int = 4,
        queues: str = "llmix",
        loglevel: str = "INFO",
        metrics_port: int = 0,
        max_tasks_per_child: int | None = None,
        celery_cli: bool = False,
        launcher: Sequence[str] | None = None,
        metrics_port_retries: int = 3,
    ) -> None:
        self.name = name
        self._metrics_port_retries = metrics_port_retries
        self.metrics_port = metrics_port
        self.hostname = f"{name}@llmix"
        self.log_path = workdir / f"{name}.log"
        command = ["celery", "-A", "llmix_workers.celery_app"] if celery_cli else ["llmix_workers"]
        start = list(launcher) if launcher else [sys.executable, "-m", *command]
        self._args = [
            *start, "worker",
            "-n", self.hostname, "--pool", pool, "-c", str(concurrency), "-Q", queues,
            "-l", loglevel,
        ]  # fmt: skip
        if max_tasks_per_child:
            self._args.append(f"--max-tasks-per-child={max_tasks_per_child}")
        self._env = dict(env)
        if celery_cli:
            self._args += ["--without-gossip", "--without-mingle"]
            self._env.update(LLMIX_WORKER__POOL=pool, LLMIX_WORKER__CONCURRENCY=str(concurrency),
                             LLMIX_TELEMETRY__METRICS_PORT=str(metrics_port))  # fmt: skip
        else:
            self._args += ["--metrics-port", str(metrics_port)]
        self._workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(
        self, timeout_s: float = 60.0, ready: Callable[[str], bool] | None = None
    ) -> LocalWorker:
        """Start and wait until the worker is ready to take jobs: it logs so, or ``ready``
        (given the node name) says so.

        A metrics port found taken at start (another process bound it after ``free_port()``
        chose it: CI ci53, three runs at once) is replaced by a new free port, up to
        ``metrics_port_retries`` times; :attr:`metrics_port` names the one in use."""
        for attempt in range(self._metrics_port_retries + 1):
            try:
                return self._start(timeout_s, ready)
            except WorkerDidNotStart:
                if attempt == self._metrics_port_retries or not self._metrics_port_was_taken():
                    raise
                self._use_metrics_port(free_port())
        raise AssertionError("unreachable")

    def _metrics_port_was_taken(self) -> bool:
        log = self.log()
        return (
            self.metrics_port != 0
            and "cannot serve metrics on" in log
            and ("Address already in use" in log)
        )

    def _use_metrics_port(self, port: int) -> None:
        self.metrics_port = port
        if "--metrics-port" in self._args:
            self._args[self._args.index("--metrics-port") + 1] = str(port)
        else:
            self._env["LLMIX_TELEMETRY__METRICS_PORT"] = str(port)

    def _start(self, timeout_s: float, ready: Callable[[str], bool] | None) -> LocalWorker:
        self.log_path.write_bytes(b"")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self._args, env=self._env, cwd=self._workdir, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise WorkerDidNotStart(
                    f"{self.hostname} exited ({_exit(self.process.returncode)}): {self.log_tail()}"
                )
            if f"{self.hostname} ready." in self.log() or (ready and ready(self.hostname)):
                return self
            time.sleep(0.1)
        raise WorkerDidNotStart(f"{self.hostname} not ready in {timeout_s:g}s: {self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.process is not None, "worker not started"
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 2000) -> str:
        return self.log()[-chars:]

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the worker's whole process group (prefork children too)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL the worker and its children: nothing is acknowledged, nothing cleaned up."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(30)

    def pause(self) -> None:
        """SIGSTOP the worker's process group, and return once each of its processes is seen
        stopped: what a test plays next meets a worker that is frozen."""
        self.signal(signal.SIGSTOP)
        if self.process is not None and self.process.poll() is None:
            group = self.process.pid
            eventually(
                lambda: not group_running(group), f"every process of {self.hostname} stopped"
            )

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Warm shutdown (SIGTERM), SIGKILL if it takes longer than ``timeout_s``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()


class LocalFleet(PrivateServer):
    """Redis + (stub provider) + worker processes, all torn down by :meth:`close`.

    ``worker_env`` adds environment variables for the workers (e.g. ``LLMIX_WORKER__...``); it
    stays a public dict, read each time a worker starts.
    With ``stub=False`` the workers use whatever provider keys the environment has.
    ``broker_url`` and ``result_backend`` (default: the Redis) put Celery elsewhere: a Sentinel,
    RabbitMQ, or a standalone Redis beside a cluster that holds L2 and fleet state; the workers
    and :meth:`settings` both get them.
    """

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        stub: bool = True,
        stub_latency_ms: int = 0,
        worker_env: Mapping[str, str] | None = None,
        workdir: str | Path | None = None,
        broker_url: str | None = None,
        result_backend: str | None = None,
    ) -> None:
        self._own_dir = None if workdir else tempfile.TemporaryDirectory(prefix="llmix-fleet-")
        self.workdir = Path(workdir or self._own_dir.name)  # type: ignore[union-attr]
        self.redis: PrivateRedis | None = None if redis_url else PrivateRedis()
        self._redis_url = redis_url
        self.stub: StubProvider | None = StubProvider(latency_ms=stub_latency_ms) if stub else None
        self.worker_env = dict(worker_env or {})
        self.broker_url = broker_url
        self.result_backend = result_backend
        self.workers: list[LocalWorker] = []
        self._control_app: Any = None

    @property
    def redis_url(self) -> str:
        if self.redis is not None:
            return self.redis.url
        assert self._redis_url is not None
        return self._redis_url

    def start(self) -> LocalFleet:
        if self.redis is not None:
            self.redis.start()
        if self.stub is not None:
            self.stub.start()
        return self

    def env(self) -> dict[str, str]:
        """The environment every worker of this fleet gets (its settings file exists)."""
        (self.workdir / "settings.toml").touch()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMIX_")}
        env.update(
            LLMIX_REDIS__URL=self.redis_url,
            LLMIX_SETTINGS=str(self.workdir / "settings.toml"),
            LLMIX_TELEMETRY__MULTIPROC_DIR=str(self.workdir),
            PYTHONUNBUFFERED="1",
        )
        if self.broker_url:
            env["LLMIX_WORKER__BROKER_URL"] = self.broker_url
        if self.result_backend:
            env["LLMIX_WORKER__RESULT_BACKEND"] = self.result_backend
        if self.stub is not None:
            for provider in BUILTIN_PROVIDERS:  # the Anthropic API's paths start with /v1
                base = self.stub.base_url + ("" if provider == "anthropic" else "/v1")
                env[f"LLMIX_LLM__BASE_URLS__{provider.upper()}"] = base
            env["OPENAI_API_KEY"] = env["ANTHROPIC_API_KEY"] = STUB_KEY
        env.update(self.worker_env)
        return env

    def settings(self, **overrides: Any) -> Settings:
        """Settings for a producer in this process that talks to this fleet."""
        (self.workdir / "settings.toml").touch()
        overrides.setdefault("redis", {"url": self.redis_url})
        celery = {"broker_url": self.broker_url, "result_backend": self.result_backend}
        if any(celery.values()):
            worker = {k: v for k, v in celery.items() if v}
            overrides["worker"] = {**worker, **overrides.get("worker", {})}
        return load_settings(self.workdir / "settings.toml", **overrides)

    def add_worker(self, name: str, **options: Any) -> LocalWorker:
        """Start one more worker process and wait until it is ready."""
        worker = LocalWorker(name, self.env(), self.workdir, **options)
        self.workers.append(worker)
        return worker.start(ready=self._answers_ping)

    def _answers_ping(self, hostname: str) -> bool:
        if self._control_app is None:
            self._control_app = create_app(self.settings())
        replies = self._control_app.control.ping(destination=[hostname], timeout=0.3)
        return any(hostname in reply for reply in replies or [])

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.stub is not None:
            self.stub.close()
        if self.redis is not None:
            self.redis.close()
        if self._own_dir is not None:
            self._own_dir.cleanup()


def _exit(code: int) -> str:
    """``status 2`` or ``killed by SIGSEGV``: what a failed start's message needs."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"status {code}"
