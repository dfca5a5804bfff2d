"""Thin Celery tasks: parse the payload, run it, return plain data."""

from __future__ import annotations

from typing import Any, Final

from celery import Celery, Task

from llmix_workers.errors import LLMError
from llmix_workers.jobs.job import CompletionJob
from llmix_workers.telemetry.tracing import SPAN_CACHE_CLEAR, get_tracer
from llmix_workers.wiring.fleet import build_fleet_control
from llmix_workers.worker.requeue import RequeuePlan
from llmix_workers.worker.runtime import runtime_for

#: Characters of a job's output in Celery's "succeeded" log line. Celery renders the output with
#: its saferepr whatever the log level (~0.2 ms for a whole output, a twentieth of a cache
#: miss's CPU); the output is the caller's, the line only says which job finished.
RESULT_LOG_CHARS: Final = 64
#: Celery task names: explicit and stable, never the import path.
TASK_COMPLETE: Final = "llmix.complete"
#: Returns its argument: the benchmark's baseline on the same broker and pool.
TASK_NOOP: Final = "llmix.noop"
#: A fleet-wide clear; its result is the report ``cache clear --json`` prints.
TASK_CACHE_CLEAR: Final = "llmix.cache_clear"


def register(app: Celery) -> None:
    """Register ``llmix.complete``, ``llmix.noop`` and ``llmix.cache_clear`` on ``app`` only
    (not shared: a process with several apps, a producer beside a control app, keeps one
    callable per name)."""
    settings = app.settings

    @app.task(  # type: ignore[untyped-decorator]
        name=TASK_COMPLETE,
        shared=False,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        resultrepr_maxsize=RESULT_LOG_CHARS,
    )
    def complete(
        self: Task, payload: Any, requeues: int = 0, circuit_wait_s: float = 0.0
    ) -> dict[str, Any]:
        """One completion through the cache. Bad input fails at once and is never retried;
        a retryable provider error re-queues the job after the wait it asked for.

        ``requeues`` counts the re-queues after tries that reached the provider (at most
        ``worker.max_requeues``); ``circuit_wait_s`` the countdowns of those that did not (an
        open breaker or a full concurrency window refused every try), which may add up to
        ``worker.max_circuit_wait_s``. Both travel with the re-queued message.
        """
        runtime = runtime_for(settings, self.request.hostname or "")
        job = CompletionJob.from_payload(
            payload, max_request_bytes=settings.worker.max_request_bytes
        )
        plan = RequeuePlan(settings.worker, requeues, circuit_wait_s)
        try:
            return runtime.service.complete(job, requeue_pending=plan.allows)
        except LLMError as exc:
            countdown = plan.countdown(exc)
            if countdown is None:
                raise
            runtime.service.observer.requeued(job.request)
            requeued = plan.after(exc, countdown)
            raise self.retry(
                exc=exc,
                args=(payload,),
                kwargs={"requeues": requeued.requeues, "circuit_wait_s": requeued.circuit_wait_s},
                countdown=countdown,
                max_retries=self.request.retries + 1,  # the plan bounds re-queues, not Celery
            ) from exc

    @app.task(name=TASK_NOOP, shared=False)  # type: ignore[untyped-decorator]
    def noop(payload: Any) -> Any:
        """Return the payload: the benchmark's baseline on the same broker and pool."""
        return payload

    @app.task(name=TASK_CACHE_CLEAR, shared=False)  # type: ignore[untyped-decorator]
    def cache_clear(timeout_s: float | None = None) -> dict[str, Any]:
        """Clear L2 and every L1 of the fleet (:class:`~llmix_workers.fleet.control.
        FleetControl`); return the report as ``cache clear --json`` prints it. An incomplete
        clear is a result (``complete`` false), not a task failure; no Redis URL fails it. The
        clear is counted like any other, by the worker process that takes its result."""
        control = build_fleet_control(settings)
        try:
            with get_tracer().start_as_current_span(SPAN_CACHE_CLEAR) as span:
                cleared = control.clear(timeout_s=timeout_s)
                span.set_attribute("llmix.cache.generation", cleared.generation or 0)
                span.set_attribute("llmix.cache.l2_deleted", cleared.l2_deleted)
        finally:
            control.close()
        report: dict[str, Any] = cleared.as_json()
        return report
