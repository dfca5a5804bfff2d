"""CompletionService: key → cache → (one flight) → provider → cache. The one glue function.

Thinking tags are stripped from what the caller gets, never from what is cached; a response
with tool calls is not cached; the L2 entry carries the original call's usage and model so a
hit can report the tokens it saved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from llmix_workers.cache.backend import MISS
from llmix_workers.cache.keys import DEFAULT_KEY_PREFIX, generate_cache_key
from llmix_workers.cache.tiered import CacheHit, TwoTierCache
from llmix_workers.errors import LLMError
from llmix_workers.fleet.lock import KeyLock
from llmix_workers.jobs.job import READING_MODES, WRITING_MODES, CompletionJob
from llmix_workers.jobs.observer import JobObserver, NullObserver
from llmix_workers.jobs.output import output_from_hit, output_from_result, usage_of
from llmix_workers.jobs.single_flight import SingleFlight
from llmix_workers.llm.client import LLMClient
from llmix_workers.llm.request import LLMResult


class CompletionService:
    """Runs completion jobs for one process: its cache, its client, its in-flight table.

    Thread-safe; build one per worker process (the cache's L1 and the client's pools are per
    process). ``cache`` is None when the strategy skips the response cache.
    """

    def __init__(
        self,
        cache: TwoTierCache | None,
        client: LLMClient,
        *,
        worker: str = "",
        fleet_lock: KeyLock[CacheHit] | None = None,
        observer: JobObserver | None = None,
    ) -> None:
        self.cache = cache
        self.client = client
        self.worker = worker
        self.fleet_lock = fleet_lock
        self.observer: JobObserver = observer or NullObserver()
        self.prefix = cache.key_prefix if cache is not None else DEFAULT_KEY_PREFIX
        self._flights: SingleFlight[tuple[LLMResult | CacheHit, bool]] = SingleFlight()

    def complete(
        self,
        job: CompletionJob,
        *,
        requeue_pending: Callable[[LLMError], bool] | None = None,
    ) -> dict[str, Any]:
        """The job's output (camelCase, JSON-ready). Raises the provider layer's ``LLMError``.

        ``coalesced`` is true when the job waited for another job's call instead of making its
        own: in this process (single flight) or in another worker (the fleet lock).
        ``requeue_pending``: true for an ``LLMError`` the caller answers by re-queueing the
        job, so such a try is not a finished job and is not reported to ``observer.finished``.
        """
        started = time.perf_counter()
        output = None
        report = True
        try:
            output = self._complete(job, started)
            return output
        except LLMError as exc:
            report = requeue_pending is None or not requeue_pending(exc)
            raise
        finally:
            if report:
                self.observer.finished(job.request, output, time.perf_counter() - started)

    def _complete(self, job: CompletionJob, started: float) -> dict[str, Any]:
        key = generate_cache_key(job.request.wire(), self.prefix)
        cache = self.cache
        if cache is None or job.cache not in READING_MODES:
            return self._from_result(job, self._call(job, key), key, started, coalesced=False)
        with self.observer.lookup(key) as lookup:
            hit = cache.get(key)
            lookup.found("miss" if hit is MISS else f"{hit.tier}_hit")
        if hit is not MISS:
            return self._from_hit(job, hit, key, started, coalesced=False)
        if cache.l2_blocked:
            self.observer.blocked_read()
        (outcome, waited), leader = self._flights.do(key, lambda: self._call_once(job, key, cache))
        if not leader:
            self.observer.waited("in_process")
        coalesced = waited or not leader
        if isinstance(outcome, CacheHit):  # another worker of the fleet made the call
            return self._from_hit(job, outcome, key, started, coalesced=coalesced)
        return self._from_result(job, outcome, key, started, coalesced=coalesced)

    def _call_once(
        self, job: CompletionJob, key: str, cache: TwoTierCache
    ) -> tuple[LLMResult | CacheHit, bool]:
        """The provider call for a cache miss, under the fleet lock while L2 can be read (and
        the answer will be written there for the waiters to find); True when it waited."""
        lock = self.fleet_lock
        if lock is None or not cache.l2_readable or job.cache not in WRITING_MODES:
            return self._call(job, key), False
        with self.observer.lock_wait(key):
            outcome = lock.run(
                key, lambda: self._call(job, key), lambda: cache.get(key, record=False)
            )
        if outcome.waited or outcome.took_over:
            self.observer.waited("fleet_lock", took_over=outcome.took_over)
        return outcome.value, outcome.waited

    def _call(self, job: CompletionJob, key: str) -> LLMResult:
        cache = self.cache
        epoch = cache.epoch() if cache is not None else None
        with self.observer.provider_call(job.request) as call:
            result = self.client.complete(job.request)
            call.done(result)
        if cache is not None and job.cache in WRITING_MODES and not result.tool_calls:
            extra = {"usage": usage_of(result), "model": result.model}
            with self.observer.stored(key):
                cache.set(key, result.content, ttl_s=job.ttl_s, extra=extra, epoch=epoch)
        return result

    def _from_hit(
        self, job: CompletionJob, hit: CacheHit, key: str, started: float, *, coalesced: bool
    ) -> dict[str, Any]:
        return output_from_hit(job, hit, key, started, worker=self.worker, coalesced=coalesced)

    def _from_result(
        self, job: CompletionJob, result: LLMResult, key: str, started: float, *, coalesced: bool
    ) -> dict[str, Any]:
        return output_from_result(
            job, result, key, started, worker=self.worker, coalesced=coalesced
        )
