"""CacheFirst on a private Redis: hits answered by the producer under the workers' rules."""

from __future__ import annotations

from typing import Any

import redis

from llmix_workers.jobs.job import CompletionJob
from llmix_workers.jobs.service import CompletionService
from llmix_workers.settings import load_settings
from llmix_workers.testing.fake_client import FakeClient
from llmix_workers.wiring.cache import build_cache_first, build_response_cache
from llmix_workers.wiring.fleet import build_fleet_control


def job(text: str, **fields: Any) -> CompletionJob:
    messages = [{"role": "user", "content": text}]
    return CompletionJob.from_payload({"provider": "openai", "model": "m", "messages": messages,
                                       **fields})  # fmt: skip


def test_cached_requests_are_answered_by_the_producer(redis_url: str) -> None:
    settings = load_settings(redis={"url": redis_url})
    producer = build_cache_first(settings)
    assert producer is not None
    cache = build_response_cache(settings)
    service = CompletionService(cache, FakeClient(["<think>hm</think>answer 0"]), worker="w1")
    worked = service.complete(job("q0"))
    batch = [job("q0"), job("q1"), None, job("q0", cache="bypass"), job("q0", cache="no-store")]
    outputs = producer.answer(batch)
    assert [o is not None for o in outputs] == [True, False, False, False, True]
    first = outputs[0]
    assert first is not None
    assert (first["content"], first["thinking"], first["cacheHit"]) == ("answer 0", "hm", "l2")
    assert (first["answeredBy"], first["worker"]) == ("producer", "producer")
    assert first["cacheKey"] == worked["cacheKey"] and first["usage"] == worked["usage"]


def test_nothing_is_answered_while_a_clear_blocks_l2(redis_url: str) -> None:
    settings = load_settings(redis={"url": redis_url})

    cache = build_response_cache(settings)
    CompletionService(cache, FakeClient()).complete(job("q0"))
    producer = build_cache_first(settings)
    assert producer is not None and producer.answer([job("q0")])[0] is not None
    client = redis.Redis.from_url(redis_url)
    control = build_fleet_control(settings)
    client.set(control.keys.blocked, "x")
    client.incr(control.keys.generation)
    assert producer.answer([job("q0")]) == [None]
    control.close()


def test_cache_first_can_be_turned_off(redis_url: str) -> None:
    assert build_cache_first(load_settings(redis={"url": redis_url},
                                           producer={"cache_first": False})) is None  # fmt: skip
    assert build_cache_first(load_settings(redis={"url": redis_url},
                                           cache={"strategy": "memory"})) is None  # fmt: skip
