"""AgentProcess: the runner's handle on an agent running inside a host."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import orjson

from llmix_workers.testing.nemesis.netns import Host


class AgentProcess:
    """Starts ``python -m llmix_workers.testing.nemesis.agent`` in ``host``; :meth:`send`
    returns a future of the answer."""

    def __init__(self, host: Host, env: dict[str, str], workdir: Path) -> None:
        self.host = host
        self.history = workdir / f"{host.role}.jsonl"
        self.log = workdir / f"{host.role}.log"
        self._env = env
        self._workdir = workdir
        self._ids = itertools.count(1)
        self._waiting: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> AgentProcess:
        self.history.write_bytes(b"")
        with self.log.open("ab") as log:
            self._process = self.host.popen(
                [sys.executable, "-m", "llmix_workers.testing.nemesis.agent", str(self.history)],
                env=self._env, cwd=self._workdir, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, start_new_session=True,
            )  # fmt: skip
        threading.Thread(target=self._read, daemon=True, name=f"agent-{self.host.role}").start()
        self.send("ping").result(timeout=60)
        return self

    def send(self, op: str, **fields: Any) -> Future[dict[str, Any]]:
        assert self._process is not None and self._process.stdin is not None
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            command_id = next(self._ids)
            self._waiting[command_id] = future
            self._process.stdin.write(orjson.dumps({"id": command_id, "op": op, **fields}) + b"\n")
            self._process.stdin.flush()
        return future

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            answer = orjson.loads(line)
            with self._lock:
                future = self._waiting.pop(int(answer.pop("id")), None)
            if future is not None:
                future.set_result(answer)
        with self._lock:
            for future in self._waiting.values():
                future.set_exception(RuntimeError(f"agent {self.host.role} exited: "
                                                  f"{self.log_tail()}"))  # fmt: skip
            self._waiting.clear()

    def log_tail(self, chars: int = 1500) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def close(self) -> None:
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
