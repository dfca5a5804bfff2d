"""The agent: a process inside a host (producer or admin) that runs what the runner asks.

``python -m llmix_workers.testing.nemesis.agent HISTORY`` reads one JSON command per line on
stdin and answers each with one JSON line on stdout carrying the command's ``id``; commands run
on threads of their own, so a clear can run while the workload does. Events go to the JSONL
file HISTORY as they happen. Settings come from the environment, as for any llmix process.

Commands: ``{"op": "ping"}``; ``{"op": "workload", "plan": {...WorkloadPlan}}`` (answers with
the counts when the plan's time is up); ``{"op": "clear", "how": "cli"|"task"|"broadcast",
"timeout_s": 5, "queue": "q-w1"}`` (answers with the clear's record).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import orjson

from llmix_workers.settings import load_settings
from llmix_workers.testing.nemesis.clears import run_clear
from llmix_workers.testing.nemesis.history import Recorder
from llmix_workers.testing.nemesis.workload import Workload, WorkloadPlan


class Agent:
    """Dispatches commands; ``out`` receives the answers (one line each, never interleaved)."""

    def __init__(self, recorder: Recorder, out: IO[bytes]) -> None:
        self.recorder = recorder
        self.settings = load_settings()
        self._out = out
        self._lock = threading.Lock()
        self._ops: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "ping": lambda command: {"pong": True},
            "workload": self._workload,
            "clear": self._clear,
        }

    def handle(self, command: dict[str, Any]) -> None:
        threading.Thread(target=self._run, args=(command,), daemon=True).start()

    def _run(self, command: dict[str, Any]) -> None:
        op = self._ops.get(str(command.get("op")))
        try:
            body = op(command) if op else {"error": f"unknown op {command.get('op')!r}"}
        except Exception as exc:
            body = {"error": f"{type(exc).__name__}: {exc}"}
        with self._lock:
            self._out.write(orjson.dumps({"id": command.get("id"), **body}) + b"\n")
            self._out.flush()

    def _workload(self, command: dict[str, Any]) -> dict[str, Any]:
        plan = command["plan"]
        plan = WorkloadPlan(**{**plan, "workers": tuple(plan["workers"])})
        return {"counts": Workload(self.settings, plan, self.recorder).run()}

    def _clear(self, command: dict[str, Any]) -> dict[str, Any]:
        clear = run_clear(self.settings, command["how"], timeout_s=float(command["timeout_s"]),
                          queue=command.get("queue"), nodes=command.get("nodes"))  # fmt: skip
        self.recorder.add(clear)
        return {"clear": asdict(clear)}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    recorder = Recorder(Path(args[0]))
    agent = Agent(recorder, sys.stdout.buffer)
    for line in sys.stdin.buffer:
        if line.strip():
            agent.handle(orjson.loads(line))
    recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
