"""Fleet clears started the three ways a user starts them, each recorded as a :class:`Clear`.

``cli``: the ``llmix-workers cache clear --json`` command in a child process (complete when it
exits 0); ``task``: the ``llmix.cache_clear`` task sent to one worker's queue (complete when
its report says so); ``broadcast``: the ``llmix_cache_clear`` remote-control command (complete
when a node's reply says the shared clear was). ``start`` is taken before anything is sent and
``end`` once the answer is in this process: the clear began no earlier than ``start`` and
reported no later than ``end``.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import orjson

from llmix_workers.fleet.shared_clear import GRACE_S
from llmix_workers.settings import Settings
from llmix_workers.testing.nemesis.history import Clear, ClearHow, now
from llmix_workers.worker.app import create_app
from llmix_workers.worker.control import CONTROL_CACHE_CLEAR
from llmix_workers.worker.tasks import TASK_CACHE_CLEAR

#: Beyond the clear's own timeout, how long to wait for its answer.
ANSWER_GRACE_S = 10.0


def run_clear(
    settings: Settings,
    how: ClearHow,
    *,
    timeout_s: float,
    queue: str | None = None,
    nodes: int | None = None,
) -> Clear:
    """Start one clear ``how``, wait for its answer, return the record. ``queue``: where the
    task goes; ``nodes``: how many replies a broadcast waits for (else its whole timeout)."""
    clear_id = uuid.uuid4().hex[:12]
    start = now()
    try:
        complete, detail = _RUNNERS[how](settings, timeout_s, queue, nodes)
    except Exception as exc:  # an answer that never came is an incomplete clear, not a crash
        complete, detail = False, {"error": f"{type(exc).__name__}: {exc}"[:500]}
    return Clear(clear_id, how, start, now(), complete, detail)


def _cli(
    settings: Settings, timeout_s: float, queue: str | None, nodes: int | None
) -> tuple[bool, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "llmix_workers", "cache", "clear", "--json",
         "--timeout", str(timeout_s)],
        capture_output=True, timeout=timeout_s + ANSWER_GRACE_S + 30, check=False,
    )  # fmt: skip
    try:
        report: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    except (IndexError, orjson.JSONDecodeError):
        report = {"stderr": done.stderr.decode(errors="replace")[-500:]}
    return done.returncode == 0, _brief(report, exit_code=done.returncode)


def _task(
    settings: Settings, timeout_s: float, queue: str | None, nodes: int | None
) -> tuple[bool, dict[str, Any]]:
    app = create_app(settings)
    try:
        result = app.send_task(TASK_CACHE_CLEAR, kwargs={"timeout_s": timeout_s},
                               queue=queue or settings.worker.queue)  # fmt: skip
        report: dict[str, Any] = result.get(timeout=timeout_s + ANSWER_GRACE_S)
        return bool(report.get("complete")), _brief(report, queue=queue)
    finally:
        app.close()


def _broadcast(
    settings: Settings, timeout_s: float, queue: str | None, nodes: int | None
) -> tuple[bool, dict[str, Any]]:
    app = create_app(settings)
    try:
        replies = app.control.broadcast(CONTROL_CACHE_CLEAR, arguments={"timeout_s": timeout_s},
                                        reply=True, timeout=timeout_s + GRACE_S / 3,
                                        limit=nodes)  # fmt: skip
    finally:
        app.close()
    by_node = {node: reply for answer in replies or [] for node, reply in answer.items()}
    complete = any(bool(reply.get("complete")) for reply in by_node.values())
    return complete, {"nodes": {node: _brief(reply) for node, reply in by_node.items()}}


def _brief(report: dict[str, Any], **extra: Any) -> dict[str, Any]:
    keep = ("complete", "generation", "l2Deleted", "l2Error", "silent", "stderr", "error",
            "processes", "pids")  # fmt: skip
    acked = {"acked": sorted(f"{a['node']}|{a['pid']}" for a in report.get("acks", []))}
    return {**{k: report[k] for k in keep if k in report}, **acked, **extra}


_RUNNERS = {"cli": _cli, "task": _task, "broadcast": _broadcast}
