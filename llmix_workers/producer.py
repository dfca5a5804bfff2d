"""CompletionProducer: the Python API for enqueueing completion jobs and getting results back.

Usable without the CLI::

    producer = CompletionProducer(load_settings())
    output = producer.complete({"provider": "openai", "model": "gpt-4o-mini",
                                "messages": [{"role": "user", "content": "Hi"}]})
    outcomes = producer.run_batch(requests)   # in input order, failures included
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as ResultTimeout

from llmix_workers.errors import InvalidRequest, LlmixError
from llmix_workers.jobs.job import CompletionJob
from llmix_workers.settings import Settings
from llmix_workers.worker.app import create_app
from llmix_workers.worker.tasks import TASK_COMPLETE


class JobFailed(LlmixError):
    """Raised by :meth:`CompletionProducer.complete` when the job failed; says why."""


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """One job of a batch: its output, or the error that stopped it (never both)."""

    index: int
    output: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> dict[str, Any]:
        """The JSONL line for this job: the task's output, or ``{"error": ...}``."""
        return dict(self.output or {}) if self.ok else {"error": self.error}


class CompletionProducer:
    """Sends ``llmix.complete`` jobs to the fleet and collects their results (sync)."""

    def __init__(self, settings: Settings, *, app: Celery | None = None) -> None:
        self.settings = settings
        self.app = app or create_app(settings)

    def submit(
        self,
        request: Mapping[str, Any] | CompletionJob,
        *,
        validate: bool = True,
        queue: str | None = None,
    ) -> str:
        """Enqueue one job (on ``queue``, default ``worker.queue``); return its task id.

        Raises:
            InvalidRequest: ``validate`` is on and the request is not valid (nothing is sent).
        """
        payload: Any = self._payload(request) if validate else request
        queue = queue or self.settings.worker.queue
        result = self.app.send_task(TASK_COMPLETE, args=[payload], queue=queue)
        return str(result.id)

    def complete(
        self, request: Mapping[str, Any], *, timeout_s: float = 300.0, queue: str | None = None
    ) -> dict[str, Any]:
        """Run one job and wait for its output.

        Raises:
            InvalidRequest: the request is not valid (nothing is sent).
            JobFailed: the job failed on the worker, or did not finish within ``timeout_s``.
        """
        outcome = self.run_batch([request], timeout_s=timeout_s, queue=queue)[0]
        if outcome.error is not None:
            raise JobFailed(outcome.error)
        return outcome.output or {}

    def run_batch(
        self,
        requests: Iterable[Mapping[str, Any] | Exception],
        *,
        timeout_s: float = 600.0,
        on_done: Callable[[JobOutcome], None] | None = None,
        validate: bool = True,
        queue: str | None = None,
    ) -> list[JobOutcome]:
        """Enqueue every request, wait for all, return outcomes in input order.

        An item that is an ``Exception`` (a line that did not parse, say) or an invalid request
        fails alone, without being sent. ``on_done`` is called once per job as it finishes.
        """
        outcomes: dict[int, JobOutcome] = {}
        pending: dict[str, int] = {}

        def finish(outcome: JobOutcome) -> None:
            outcomes[outcome.index] = outcome
            if on_done is not None:
                on_done(outcome)

        count = 0
        for index, request in enumerate(requests):
            count += 1
            if isinstance(request, Exception):
                finish(JobOutcome(index, error=str(request)))
                continue
            try:
                pending[self.submit(request, validate=validate, queue=queue)] = index
            except InvalidRequest as exc:
                finish(JobOutcome(index, error=str(exc)))
        self._collect(pending, timeout_s, finish)
        return [outcomes[index] for index in range(count)]

    def _payload(self, request: Mapping[str, Any] | CompletionJob) -> dict[str, Any]:
        job = request if isinstance(request, CompletionJob) else CompletionJob.from_payload(
            request, max_request_bytes=self.settings.worker.max_request_bytes
        )  # fmt: skip
        return job.wire()

    def _collect(
        self, pending: dict[str, int], timeout_s: float, finish: Callable[[JobOutcome], None]
    ) -> None:
        deadline = time.monotonic() + timeout_s
        backend = self.app.backend
        while pending and time.monotonic() < deadline:
            ids = list(pending)
            try:
                for task_id, meta in backend.get_many(
                    ids, timeout=max(0.1, deadline - time.monotonic()), interval=0.02
                ):
                    index = pending.pop(task_id, None)
                    if index is not None:
                        finish(_outcome(index, meta))
            except ResultTimeout:
                break
        for task_id, index in pending.items():
            finish(JobOutcome(index, error=f"no result within {timeout_s:g} s (task {task_id})"))


def _outcome(index: int, meta: Mapping[str, Any]) -> JobOutcome:
    if meta.get("status") == "SUCCESS":
        return JobOutcome(index, output=meta.get("result"))
    error = meta.get("result")
    if isinstance(error, BaseException):
        return JobOutcome(index, error=f"{type(error).__name__}: {error}")
    return JobOutcome(index, error=f"{meta.get('status')}: {error}")
