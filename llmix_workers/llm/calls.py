"""CompletionService: key → cache → (one flight) → provider → cache. The one glue function.

Thinking tags are stripped from what the caller gets, never from what is cached; a response
with tool calls is not cached; the L2 entry carries the original call's usage and model so a
hit can report the tokens it saved.
"""

from __future__ import annotations

import time
from typing import Any

from llmix_workers.cache.backend import MISS
from llmix_workers.cache.keys import generate_cache_key
from llmix_workers.cache.tiered import CacheHit, TwoTierCache
from llmix_workers.constants import DEFAULT_KEY_PREFIX
from llmix_workers.fleet.lock import FleetLock
from llmix_workers.fleet.member import FleetMember
from llmix_workers.llm.client import LLMClient
from llmix_workers.llm.job import READING_MODES, WRITING_MODES, CompletionJob
from llmix_workers.llm.request import LLMResult
from llmix_workers.llm.single_flight import SingleFlight
from llmix_workers.llm.thinking import strip_thinking


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
        fleet: FleetMember | None = None,
        fleet_lock: FleetLock[CacheHit] | None = None,
    ) -> None:
        self.cache = cache
        self.client = client
        self.worker = worker
        self.fleet = fleet
        self.fleet_lock = fleet_lock
        self.prefix = cache.key_prefix if cache is not None else DEFAULT_KEY_PREFIX
        self._flights: SingleFlight[LLMResult | CacheHit] = SingleFlight()

    def complete(self, job: CompletionJob) -> dict[str, Any]:
        """The job's output (camelCase, JSON-ready). Raises the provider layer's ``LLMError``."""
        started = time.perf_counter()
        key = generate_cache_key(job.request.key_params(), self.prefix)
        cache = self.cache
        if cache is None or job.cache not in READING_MODES:
            return self._from_result(job, self._call(job, key), key, started, coalesced=False)
        if self.fleet is not None:
            self.fleet.ensure_fresh()
        hit = cache.get(key)
        if hit is not MISS:
            return self._from_hit(job, hit, key, started)
        outcome, leader = self._flights.do(key, lambda: self._call_once(job, key, cache))
        if not leader:
            hit = cache.get(key)
            if hit is not MISS:
                return self._from_hit(job, hit, key, started)
        if isinstance(outcome, CacheHit):  # another worker of the fleet made the call
            return self._from_hit(job, outcome, key, started)
        return self._from_result(job, outcome, key, started, coalesced=not leader)

    def _call_once(self, job: CompletionJob, key: str, cache: TwoTierCache) -> LLMResult | CacheHit:
        """The provider call for a cache miss, under the fleet lock while L2 can be read (and
        the answer will be written there for the waiters to find)."""
        lock = self.fleet_lock
        if lock is None or not cache.l2_readable or job.cache not in WRITING_MODES:
            return self._call(job, key)
        found: LLMResult | CacheHit = lock.run(
            key, lambda: self._call(job, key), lambda: cache.get(key, record=False)
        )
        return found

    def _call(self, job: CompletionJob, key: str) -> LLMResult:
        generation = self.fleet.generation if self.fleet is not None else None
        result = self.client.complete(job.request)
        if (
            self.cache is not None
            and job.cache in WRITING_MODES
            and not result.tool_calls
            and (self.fleet is None or self.fleet.generation == generation)  # no clear meanwhile
        ):
            extra = {"usage": _usage(result), "model": result.model}
            self.cache.set(key, result.content, ttl_s=job.ttl_s, extra=extra)
        return result

    def _from_hit(
        self, job: CompletionJob, hit: CacheHit, key: str, started: float
    ) -> dict[str, Any]:
        extra = hit.extra or {}
        usage = extra.get("usage")
        return self._output(
            job,
            hit.value,
            model=extra.get("model") if isinstance(extra.get("model"), str) else None,
            usage=usage if isinstance(usage, dict) else None,
            cache_hit=hit.tier,
            key=key,
            started=started,
        )

    def _from_result(
        self, job: CompletionJob, result: LLMResult, key: str, started: float, *, coalesced: bool
    ) -> dict[str, Any]:
        output = self._output(
            job,
            result.content,
            model=result.model,
            usage=_usage(result),
            cache_hit=None,
            key=key,
            started=started,
        )
        output["coalesced"] = coalesced
        if result.tool_calls:
            output["toolCalls"] = result.tool_calls
        if result.finish_reason:
            output["finishReason"] = result.finish_reason
        return output

    def _output(
        self,
        job: CompletionJob,
        raw: str,
        *,
        model: str | None,
        usage: dict[str, Any] | None,
        cache_hit: str | None,
        key: str,
        started: float,
    ) -> dict[str, Any]:
        content, thinking = strip_thinking(raw)
        return {
            "content": content,
            "thinking": thinking,
            "model": model or job.request.model,
            "provider": job.request.provider,
            "usage": usage or {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0},
            "cacheHit": cache_hit,
            "cacheKey": key,
            "latencyMs": round((time.perf_counter() - started) * 1000, 3),
            "coalesced": False,
            "worker": self.worker,
        }


def _usage(result: LLMResult) -> dict[str, int]:
    usage = result.usage
    return {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total_tokens,
    }
