"""JobObserver: what a CompletionService tells the outside world (metrics, spans) as a job runs.

The service calls these hooks at each step; :class:`NullObserver` does nothing, and
:class:`~llmix_workers.telemetry.job_telemetry.JobTelemetry` turns them into Prometheus samples
and OpenTelemetry spans. Hooks are called from many threads and must not raise.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from llmix_workers.llm.request import LLMRequest, LLMResult


class CallRecord(Protocol):
    """One provider call in progress, told how it ended."""

    def done(self, result: LLMResult) -> None: ...


class LookupRecord(Protocol):
    """One cache lookup in progress, told what it found."""

    def found(self, outcome: str) -> None: ...


class JobObserver(Protocol):
    """Hooks along one job's path; ``outcome``/``cache`` are ``l1_hit``, ``l2_hit``, ``miss``."""

    def lookup(self, key: str) -> AbstractContextManager[LookupRecord]:
        """Around a cache lookup."""
        ...

    def blocked_read(self) -> None:
        """L2 was not read because the fleet blocked it (a clear running or failed)."""
        ...

    def waited(self, kind: str, took_over: bool = False) -> None:
        """The job waited for another job's call: ``in_process`` or ``fleet_lock``."""
        ...

    def lock_wait(self, key: str) -> AbstractContextManager[Any]:
        """Around a fleet-lock acquisition and wait."""
        ...

    def provider_call(self, request: LLMRequest) -> AbstractContextManager[CallRecord]:
        """Around one provider call (all its attempts); an exception leaving it is its error."""
        ...

    def stored(self, key: str) -> AbstractContextManager[Any]:
        """Around a cache write."""
        ...

    def finished(
        self, request: LLMRequest, output: dict[str, Any] | None, duration_s: float
    ) -> None:
        """The job ended: with its output, or ``None`` when it failed."""
        ...

    def requeued(self, request: LLMRequest) -> None:
        """The job goes back to the queue with a countdown (its try is not finished)."""
        ...


class _NullRecord:
    def done(self, result: LLMResult) -> None:
        return None

    def found(self, outcome: str) -> None:
        return None

    def __enter__(self) -> _NullRecord:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_NULL = _NullRecord()


class NullObserver:
    """Observes nothing (telemetry off)."""

    def lookup(self, key: str) -> AbstractContextManager[LookupRecord]:
        return _NULL

    def blocked_read(self) -> None:
        return None

    def waited(self, kind: str, took_over: bool = False) -> None:
        return None

    def lock_wait(self, key: str) -> AbstractContextManager[Any]:
        return nullcontext()

    def provider_call(self, request: LLMRequest) -> AbstractContextManager[CallRecord]:
        return _NULL

    def stored(self, key: str) -> AbstractContextManager[Any]:
        return nullcontext()

    def finished(
        self, request: LLMRequest, output: dict[str, Any] | None, duration_s: float
    ) -> None:
        return None

    def requeued(self, request: LLMRequest) -> None:
        return None
