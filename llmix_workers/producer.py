"""CompletionProducer: the Python API for enqueueing completion jobs and getting results back.

Usable without the CLI::

    producer = CompletionProducer(load_settings())
    output = producer.complete({"provider": "openai", "model": "gpt-4o-mini",
                                "messages": [{"role": "user", "content": "Hi"}]})
    outcomes = producer.run_batch(requests)   # in input order, failures included
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import islice
from typing import Any

from celery import Celery
from celery.app import app_or_default
from celery.backends.redis import RedisBackend

from llmix_workers.errors import InvalidRequest, LlmixError
from llmix_workers.jobs.cache_first import PRODUCER, CacheFirst
from llmix_workers.jobs.job import CompletionJob
from llmix_workers.results import Batch, JobOutcome, ResultCollector
from llmix_workers.settings import Settings
from llmix_workers.wiring.cache import build_cache_first
from llmix_workers.worker.app import create_app
from llmix_workers.worker.tasks import TASK_COMPLETE


def close_app(app: Celery) -> None:
    """Close what ``app`` opened rather than leave it to the garbage collector (Celery's own
    ``close()`` only drops the broker pool): the broker pool's connections, and a Redis result
    backend's subscription and client connections. A backend is per thread; this closes the
    calling thread's."""
    app.pool.force_close_all()
    backend = app.backend
    if isinstance(backend, RedisBackend):
        backend.result_consumer.stop()
        backend.client.connection_pool.disconnect()
    app.close()


class JobFailed(LlmixError):
    """Raised by :meth:`CompletionProducer.complete` when the job failed; says why."""


#: Requests looked up together in L2 before their misses are sent (cache-first batches).
LOOKUP_CHUNK = 2000


class CompletionProducer:
    """Sends ``llmix.complete`` jobs to the fleet and collects their results (sync).

    Batches are cache-first by default (``producer.cache_first``): each chunk of requests is
    looked up in L2 before anything is sent, hits are answered at once (``answeredBy:
    "producer"``) and only misses become tasks.
    """

    def __init__(self, settings: Settings, *, app: Celery | None = None) -> None:
        self.settings = settings
        self._owns_app = app is None
        self.app = app or create_app(settings)
        self._cache_first: CacheFirst | None = None
        self._cache_first_built = False

    def close(self) -> None:
        """Close the batch lookup's Redis connections and, when this producer built its Celery
        app, the app's broker connections and this thread's result backend (its client and its
        subscription). The producer is not used afterwards."""
        if self._cache_first is not None:
            self._cache_first.close()
            self._cache_first = None
        if self._owns_app:
            close_app(self.app)

    def __enter__(self) -> CompletionProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def cache_first(self) -> CacheFirst | None:
        """The batch lookup, built on first use (``None`` when off or without Redis)."""
        if not self._cache_first_built:
            self._cache_first = build_cache_first(self.settings)
            self._cache_first_built = True
        return self._cache_first

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
        with _current(self.app):
            result = self.app.send_task(TASK_COMPLETE, args=[payload], queue=queue)
        return str(result.id)

    def complete(
        self,
        request: Mapping[str, Any],
        *,
        timeout_s: float = 300.0,
        queue: str | None = None,
        cache_first: bool = False,
    ) -> dict[str, Any]:
        """Run one job on a worker and wait for its output (``cache_first`` answers a cached
        request here instead).

        Raises:
            InvalidRequest: the request is not valid (nothing is sent).
            JobFailed: the job failed on the worker, or did not finish within ``timeout_s``.
        """
        outcome = self.run_batch(
            [request], timeout_s=timeout_s, queue=queue, cache_first=cache_first
        )[0]
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
        cache_first: bool | None = None,
    ) -> list[JobOutcome]:
        """Enqueue every request, wait for all, return outcomes in input order.

        An item that is an ``Exception`` (a line that did not parse, say) or an invalid request
        fails alone, without being sent. ``on_done`` is called once per job as it finishes.
        ``cache_first`` (default: the setting) answers cached requests without a task.
        """
        batch = self.start_batch(requests, on_done=on_done, validate=validate, queue=queue,
                                 cache_first=cache_first)  # fmt: skip
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
        cache_first: bool | None = None,
    ) -> Batch:
        """Enqueue every request; the returned :class:`Batch` (``batch`` when given, filled as
        jobs are sent, so an interrupted caller still holds it) has the outcomes so far (bad
        items, invalid requests, cached answers) and the task id of every job sent."""
        batch = Batch() if batch is None else batch
        lookup = self.cache_first if validate and cache_first is not False else None
        queue = queue or self.settings.worker.queue
        for chunk in _chunks(enumerate(requests), LOOKUP_CHUNK):
            batch.count += len(chunk)
            jobs = [self._job_or_outcome(index, request, validate) for index, request in chunk]
            valid = [job if isinstance(job, CompletionJob) else None for job in jobs]
            answers = lookup.answer(valid) if lookup is not None else [None] * len(jobs)
            for (index, request), job, answer in zip(chunk, jobs, answers, strict=True):
                if isinstance(job, JobOutcome):
                    _record(batch, job, on_done)
                elif answer is not None:
                    _record(batch, JobOutcome(index, output=answer, worker=PRODUCER), on_done)
                else:
                    payload = job.wire() if job is not None else request
                    task_id = self.submit(payload, validate=False, queue=queue)
                    batch.pending[task_id] = index
                    batch.task_ids[index] = task_id
        return batch

    def _job_or_outcome(
        self, index: int, request: Mapping[str, Any] | Exception, validate: bool
    ) -> CompletionJob | JobOutcome | None:
        """The validated job (None when not validating), or the failure of a bad item."""
        try:
            if isinstance(request, Exception):
                raise request
            if not validate:
                return None
            return CompletionJob.from_payload(
                request, max_request_bytes=self.settings.worker.max_request_bytes
            )
        except (InvalidRequest, ValueError) as exc:
            kind = type(exc).__name__ if isinstance(exc, LlmixError) else "InvalidInput"
            return JobOutcome(index, error=str(exc), error_type=kind)

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


def _record(
    batch: Batch, outcome: JobOutcome, on_done: Callable[[JobOutcome], None] | None
) -> None:
    batch.outcomes[outcome.index] = outcome
    if on_done is not None:
        on_done(outcome)


def _chunks(items: Iterator[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    while chunk := list(islice(items, size)):
        yield chunk


@contextmanager
def _current(app: Celery) -> Iterator[None]:
    """``app`` as this thread's current Celery app while publishing, then the previous one back.

    The OpenTelemetry Celery instrumentation looks a published task up in the current app and
    ends the publish span only when it finds it; our app is not set as current (it must not
    displace the user's own), so without this the span would never end nor be exported. Only
    Celery's public API: ``app_or_default()`` is the current app (Celery's default one when
    none was set, which is what the current app then is anyway).
    """
    previous = app_or_default()
    app.set_current()
    try:
        yield
    finally:
        previous.set_current()


__all__ = ["Batch", "CompletionProducer", "JobFailed", "JobOutcome"]
