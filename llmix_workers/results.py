"""Collecting a batch's results from the Celery result backend, through its outages.

:class:`Batch` is the state of one batch (what finished, what is still pending, which jobs were
re-queued); :class:`ResultCollector` fills it by polling the result backend. A backend that
stops answering (a Redis restart) is waited out until the deadline: the collector reconnects
and goes on, and a job whose result never came gives an error line that says so, naming the
outage. The state lives in the :class:`Batch`, so a caller interrupted by Ctrl-C still holds
everything collected so far and the task ids of the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis
from kombu.exceptions import OperationalError

#: What a result-backend round trip raises while the backend is down or restarting.
BACKEND_ERRORS = (redis.RedisError, OSError, OperationalError)


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """One job of a batch: its output, or the error that stopped it (never both).

    ``worker`` is the node that ran it (None when it never reached one), ``requeues`` how many
    times it was re-queued after a retryable provider error.
    """

    index: int
    output: dict[str, Any] | None = None
    error: str | None = None
    error_type: str | None = None
    worker: str | None = None
    task_id: str | None = None
    requeues: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> dict[str, Any]:
        """The JSONL line: the task's output, or ``{"error", "errorType", "worker", "taskId"}``."""
        if self.ok:
            return dict(self.output or {})
        return {"error": self.error, "errorType": self.error_type or "Error",
                "worker": self.worker, "taskId": self.task_id}  # fmt: skip


@dataclass
class Batch:
    """A batch in flight: finished outcomes by input index, pending task ids, re-queued ids."""

    count: int = 0
    outcomes: dict[int, JobOutcome] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    task_ids: dict[int, str] = field(default_factory=dict)
    requeued: set[str] = field(default_factory=set)
    outage_s: float = 0.0

    def ordered(self) -> list[JobOutcome]:
        """Every outcome in input order; a job not finished yet is an error saying so."""
        return [
            self.outcomes.get(index)
            or JobOutcome(
                index,
                error="not finished",
                error_type="NotFinished",
                task_id=self.task_ids.get(index),
            )  # fmt: skip
            for index in range(self.count)
        ]

    def give_up(self, timeout_s: float) -> list[JobOutcome]:
        """Turn every pending job into a timeout error (naming a backend outage if any)."""
        lost = (
            f"; the result backend was unreachable for {self.outage_s:.1f} s during the wait, "
            "so its result may have been lost"
            if self.outage_s else ""
        )  # fmt: skip
        given_up = [
            JobOutcome(
                index,
                error=f"no result within {timeout_s:g} s (task {task_id}){lost}",
                error_type="ResultLost" if lost else "Timeout",
                task_id=task_id,
            )  # fmt: skip
            for task_id, index in self.pending.items()
        ]
        self.pending.clear()
        for outcome in given_up:
            self.outcomes[outcome.index] = outcome
        return given_up


class ResultCollector:
    """Polls ``backend`` (a Celery result backend) for a batch; ``poll_s`` between rounds."""

    def __init__(
        self,
        backend: Any,
        *,
        poll_s: float = 0.05,
        chunk: int = 1000,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.backend = backend
        self.poll_s = poll_s
        self.chunk = chunk
        self._monotonic = monotonic
        self._sleep = sleep

    def collect(
        self,
        batch: Batch,
        timeout_s: float,
        on_done: Callable[[JobOutcome], None] | None = None,
        on_requeue: Callable[[str], None] | None = None,
    ) -> None:
        """Poll until every pending job finished or ``timeout_s`` passed (then give up on the
        rest, see :meth:`Batch.give_up`). KeyboardInterrupt leaves ``batch`` consistent."""
        deadline = self._monotonic() + timeout_s
        down_since: float | None = None
        while batch.pending and self._monotonic() < deadline:
            try:
                metas = self._poll(list(batch.pending))
            except BACKEND_ERRORS:
                down_since = down_since if down_since is not None else self._monotonic()
                self._sleep(min(0.5, max(0.0, deadline - self._monotonic())))
                continue
            if down_since is not None:
                batch.outage_s += self._monotonic() - down_since
                down_since = None
            for task_id, meta in metas:
                self._record(batch, task_id, meta, on_done, on_requeue)
            if batch.pending:
                self._sleep(self.poll_s)
        if down_since is not None:
            batch.outage_s += self._monotonic() - down_since
        for outcome in batch.give_up(timeout_s):
            if on_done is not None:
                on_done(outcome)

    def _record(
        self,
        batch: Batch,
        task_id: str,
        meta: Mapping[str, Any],
        on_done: Callable[[JobOutcome], None] | None,
        on_requeue: Callable[[str], None] | None,
    ) -> None:
        status = meta.get("status")
        if status == "RETRY":
            if task_id not in batch.requeued:
                batch.requeued.add(task_id)
                if on_requeue is not None:
                    on_requeue(task_id)
            return
        if status not in ("SUCCESS", "FAILURE", "REVOKED"):
            return
        index = batch.pending.pop(task_id)
        outcome = outcome_of(index, task_id, meta)
        batch.outcomes[index] = outcome
        if on_done is not None:
            on_done(outcome)

    def _poll(self, task_ids: list[str]) -> list[tuple[str, Mapping[str, Any]]]:
        backend = self.backend
        found: list[tuple[str, Mapping[str, Any]]] = []
        if not hasattr(backend, "mget"):  # not a key-value backend: ready results only
            return [(str(t), m) for t, m in backend.get_many(task_ids, timeout=self.poll_s,
                                                              max_iterations=1)]  # fmt: skip
        for start in range(0, len(task_ids), self.chunk):
            ids = task_ids[start : start + self.chunk]
            values = backend.mget([backend.get_key_for_task(task_id) for task_id in ids])
            for task_id, raw in zip(ids, values, strict=True):
                if raw is not None:
                    found.append((task_id, backend.decode_result(raw)))
        return found


def outcome_of(index: int, task_id: str | None, meta: Mapping[str, Any]) -> JobOutcome:
    """A finished task's outcome from its result-backend meta."""
    worker, requeues = meta.get("worker"), int(meta.get("retries") or 0)
    if meta.get("status") == "SUCCESS":
        output = meta.get("result")
        output = output if isinstance(output, dict) else {"content": output}
        return JobOutcome(index, output=output, worker=worker or output.get("worker"),
                          task_id=task_id, requeues=requeues)  # fmt: skip
    error = meta.get("result")
    if meta.get("status") == "REVOKED":
        kind, text = "Revoked", "revoked before it ran (llmix-workers revoke)"
    elif isinstance(error, BaseException):
        kind, text = type(error).__name__, f"{type(error).__name__}: {error}"
    else:
        kind, text = str(meta.get("status")).title(), f"{meta.get('status')}: {error}"
    return JobOutcome(index, error=text, error_type=kind, worker=worker, task_id=task_id,
                      requeues=requeues)  # fmt: skip
