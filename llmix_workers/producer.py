"""CompletionProducer: the Python API for enqueueing completion jobs and getting results back.

Usable without the CLI::

    producer = CompletionProducer(load_settings())
    output = producer.complete({"provider": "openai", "model": "gpt-4o-mini",
                                "messages": [{"role": "user", "content": "Hi"}]})
    outcomes = producer.run_batch(requests)   # in input order, failures included
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from celery import Celery

from llmix_workers.errors import InvalidRequest, LlmixError
from llmix_workers.jobs.job import CompletionJob
from llmix_workers.results import Batch, JobOutcome, ResultCollector
from llmix_workers.settings import Settings
from llmix_workers.worker.app import create_app
from llmix_workers.worker.tasks import TASK_COMPLETE


class JobFailed(LlmixError):
    """Raised by :meth:`CompletionProducer.complete` when the job failed; says why."""


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
        batch = self.start_batch(requests, on_done=on_done, validate=validate, queue=queue)
        self.collect(batch, timeout_s=timeout_s, on_done=on_done)
        return batch.ordered()

    def start_batch(
        self,
        requests: Iterable[Mapping[str, Any] | Exception],
        *,
        on_done: Callable[[JobOutcome], None] | None = None,
        validate: bool = True,
        queue: str | None = None,
        batch: Batch | None = None,
    ) -> Batch:
        """Enqueue every request; the returned :class:`Batch` (``batch`` when given, filled as
        jobs are sent, so an interrupted caller still holds it) has the failures so far (bad
        items, invalid requests) and the task id of every job sent."""
        batch = Batch() if batch is None else batch
        for index, request in enumerate(requests):
            batch.count += 1
            try:
                if isinstance(request, Exception):
                    raise request
                task_id = self.submit(request, validate=validate, queue=queue)
            except (InvalidRequest, ValueError) as exc:
                kind = type(exc).__name__ if isinstance(exc, LlmixError) else "InvalidInput"
                outcome = JobOutcome(index, error=str(exc), error_type=kind)
                batch.outcomes[index] = outcome
                if on_done is not None:
                    on_done(outcome)
                continue
            batch.pending[task_id] = index
            batch.task_ids[index] = task_id
        return batch

    def batch_of(self, task_ids: Iterable[str | None]) -> Batch:
        """A batch to collect from task ids sent earlier (None for a line that was not sent)."""
        batch = Batch()
        for index, task_id in enumerate(task_ids):
            batch.count += 1
            if task_id:
                batch.pending[task_id] = index
                batch.task_ids[index] = task_id
            else:
                batch.outcomes[index] = JobOutcome(index, error="not sent", error_type="NotSent")
        return batch

    def collect(
        self,
        batch: Batch,
        *,
        timeout_s: float = 600.0,
        on_done: Callable[[JobOutcome], None] | None = None,
        on_requeue: Callable[[str], None] | None = None,
    ) -> Batch:
        """Wait for the batch's pending jobs (see :class:`~llmix_workers.results.ResultCollector`:
        result-backend outages are waited out, unfinished jobs become timeout errors)."""
        ResultCollector(self.app.backend).collect(batch, timeout_s, on_done, on_requeue)
        return batch

    def _payload(self, request: Mapping[str, Any] | CompletionJob) -> dict[str, Any]:
        job = request if isinstance(request, CompletionJob) else CompletionJob.from_payload(
            request, max_request_bytes=self.settings.worker.max_request_bytes
        )  # fmt: skip
        return job.wire()


__all__ = ["Batch", "CompletionProducer", "JobFailed", "JobOutcome"]
