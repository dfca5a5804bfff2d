"""A job's output: the JSON-ready dict ``llmix.complete`` returns, from a hit or a provider result.

Thinking tags are stripped here, from what the caller gets, never from what is cached. A hit
reports the usage and model of the call that filled the cache (the tokens it saved).
"""

from __future__ import annotations

import time
from typing import Any

from llmix_workers.cache.tiered import CacheHit
from llmix_workers.jobs.job import CompletionJob
from llmix_workers.llm.request import LLMResult
from llmix_workers.llm.thinking import strip_thinking


def output_from_hit(
    job: CompletionJob, hit: CacheHit, key: str, started: float, *, worker: str, coalesced: bool
) -> dict[str, Any]:
    """The output of a job answered from the cache (``cacheHit`` is the tier)."""
    extra = hit.extra or {}
    usage, model = extra.get("usage"), extra.get("model")
    output = _output(
        job,
        hit.value,
        model=model if isinstance(model, str) else None,
        usage=usage if isinstance(usage, dict) else None,
        cache_hit=hit.tier,
        key=key,
        started=started,
        worker=worker,
    )
    output["coalesced"] = coalesced
    return output


def output_from_result(
    job: CompletionJob,
    result: LLMResult,
    key: str,
    started: float,
    *,
    worker: str,
    coalesced: bool,
) -> dict[str, Any]:
    """The output of a job answered by a provider call (its own, or one it shared)."""
    output = _output(
        job,
        result.content,
        model=result.model,
        usage=usage_of(result),
        cache_hit=None,
        key=key,
        started=started,
        worker=worker,
    )
    output["coalesced"] = coalesced
    if result.tool_calls:
        output["toolCalls"] = result.tool_calls
    if result.finish_reason:
        output["finishReason"] = result.finish_reason
    return output


def usage_of(result: LLMResult) -> dict[str, int]:
    """A result's usage by its camelCase wire names."""
    usage = result.usage
    return {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total_tokens,
    }


def _output(
    job: CompletionJob,
    raw: str,
    *,
    model: str | None,
    usage: dict[str, Any] | None,
    cache_hit: str | None,
    key: str,
    started: float,
    worker: str,
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
        "worker": worker,
    }
