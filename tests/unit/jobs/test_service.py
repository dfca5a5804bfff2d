"""CompletionService on fakes: FakeClient, MemoryL2, LocalInvalidator and a scripted lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import pytest

from llmix_workers.cache.backend import MISS, Miss
from llmix_workers.cache.backends.memory import MemoryL2
from llmix_workers.cache.invalidation import LocalInvalidator
from llmix_workers.cache.tiered import CacheHit, TwoTierCache
from llmix_workers.fleet.lock import LockOutcome
from llmix_workers.jobs.job import CompletionJob
from llmix_workers.jobs.service import CompletionService
from llmix_workers.llm.request import LLMRequest, LLMResult, Usage
from llmix_workers.settings import CacheSettings
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.fake_client import FakeClient, echo

T = TypeVar("T")
H = TypeVar("H")


def job(text: str = "Hello", **fields: Any) -> CompletionJob:
    payload = {"provider": "openai", "model": "m", "messages": [{"role": "user", "content": text}]}
    return CompletionJob.from_payload({**payload, **fields})


@pytest.fixture
def l2(clock: FakeClock) -> MemoryL2:
    return MemoryL2(clock=clock)


@pytest.fixture
def invalidator() -> LocalInvalidator:
    return LocalInvalidator()


@pytest.fixture
def cache(l2: MemoryL2, clock: FakeClock, invalidator: LocalInvalidator) -> TwoTierCache:
    return TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=invalidator, clock=clock)


def test_a_miss_calls_once_then_hits_l1_with_the_original_usage(cache: TwoTierCache) -> None:
    fake = FakeClient()
    service = CompletionService(cache, fake, worker="w1")
    first = service.complete(job())
    second = service.complete(job())
    assert fake.calls == 1
    assert (first["cacheHit"], first["coalesced"], first["worker"]) == (None, False, "w1")
    assert (second["cacheHit"], second["coalesced"]) == ("l1", False)
    assert second["content"] == first["content"] and second["usage"] == first["usage"]
    assert second["cacheKey"] == first["cacheKey"] and first["usage"]["totalTokens"] > 0


def test_an_l2_entry_written_by_another_process_is_an_l2_hit(
    cache: TwoTierCache, l2: MemoryL2, clock: FakeClock
) -> None:
    CompletionService(cache, FakeClient()).complete(job())
    other = TwoTierCache("redis", CacheSettings(), l2=l2, clock=clock)
    fake = FakeClient()
    output = CompletionService(other, fake).complete(job())
    assert (output["cacheHit"], fake.calls) == ("l2", 0)


@pytest.mark.parametrize(
    ("mode", "calls", "stored", "second_hit"),
    [
        ("default", 1, True, "l1"),
        ("bypass", 2, False, None),
        ("refresh", 2, True, None),
        ("no-store", 2, False, None),
    ],
)
def test_cache_modes(
    cache: TwoTierCache, l2: MemoryL2, mode: str, calls: int, stored: bool, second_hit: str | None
) -> None:
    fake = FakeClient()
    service = CompletionService(cache, fake)
    first = service.complete(job(cache=mode))
    second = service.complete(job(cache=mode))
    assert fake.calls == calls
    assert (l2.get(first["cacheKey"]) is not MISS) is stored
    assert second["cacheHit"] == second_hit


def test_no_store_still_reads_what_others_stored(cache: TwoTierCache) -> None:
    CompletionService(cache, FakeClient()).complete(job())
    fake = FakeClient()
    output = CompletionService(cache, fake).complete(job(cache="no-store"))
    assert (output["cacheHit"], fake.calls) == ("l1", 0)


def test_tool_call_answers_are_never_cached(cache: TwoTierCache, l2: MemoryL2) -> None:
    def tool(request: LLMRequest) -> LLMResult:
        calls = [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]
        return echo(request).model_copy(update={"tool_calls": calls, "content": ""})

    fake = FakeClient(default=tool)
    service = CompletionService(cache, fake)
    first = service.complete(job())
    second = service.complete(job())
    assert fake.calls == 2 and second["cacheHit"] is None
    assert first["toolCalls"][0]["id"] == "c1"
    assert l2.count_entries("") == 0


def test_thinking_is_stripped_for_the_caller_and_kept_in_the_cache(
    cache: TwoTierCache, l2: MemoryL2
) -> None:
    fake = FakeClient(["<think>let me see</think>The answer."])
    service = CompletionService(cache, fake)
    first = service.complete(job())
    hit = service.complete(job())
    assert (first["content"], first["thinking"]) == ("The answer.", "let me see")
    assert (hit["content"], hit["thinking"], hit["cacheHit"]) == ("The answer.", "let me see", "l1")
    raw = l2.get(first["cacheKey"])
    assert raw is not MISS and orjson.loads(raw)["data"] == "<think>let me see</think>The answer."


def test_identical_jobs_in_flight_share_one_call_and_say_so(cache: TwoTierCache) -> None:
    release = threading.Event()
    entered = threading.Event()

    def slow(request: LLMRequest) -> LLMResult:
        entered.set()
        release.wait(10)
        return echo(request)

    fake = FakeClient(default=slow)
    service = CompletionService(cache, fake)
    outputs: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: outputs.append(service.complete(job())))
               for _ in range(5)]  # fmt: skip
    threads[0].start()
    assert entered.wait(10)
    for thread in threads[1:]:
        thread.start()
    time.sleep(0.3)  # let the four others reach the flight in progress
    release.set()
    for thread in threads:
        thread.join(10)
    assert fake.calls == 1 and len(outputs) == 5
    shared = [o for o in outputs if o["coalesced"]]
    assert len(shared) == 4 and all(o["cacheHit"] is None for o in shared)
    assert len({o["content"] for o in outputs}) == 1


def test_an_answer_computed_across_a_clear_is_not_stored(
    cache: TwoTierCache, l2: MemoryL2, invalidator: LocalInvalidator
) -> None:
    def cleared_meanwhile(request: LLMRequest) -> LLMResult:
        invalidator.invalidate()  # another process cleared the fleet while we waited
        return echo(request)

    service = CompletionService(cache, FakeClient(default=cleared_meanwhile))
    output = service.complete(job())
    assert output["cacheHit"] is None
    assert l2.get(output["cacheKey"]) is MISS
    assert cache.get(output["cacheKey"]) is MISS


class ScriptedLock:
    """A fleet lock whose other holder has already answered (``waited``) or is absent."""

    def __init__(self, holder_answer: CacheHit | None) -> None:
        self.holder_answer = holder_answer
        self.keys: list[str] = []

    def run(
        self, cache_key: str, call: Callable[[], T], lookup: Callable[[], H | Miss]
    ) -> LockOutcome[T, H | CacheHit]:
        self.keys.append(cache_key)
        if self.holder_answer is None:
            return LockOutcome(call(), False, False)
        return LockOutcome(self.holder_answer, True, False)


def test_a_job_that_waited_on_the_fleet_lock_reports_the_holders_answer_as_shared(
    cache: TwoTierCache,
) -> None:
    usage = {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}
    answer = CacheHit("from another worker", "l2", 1.0, {"usage": usage, "model": "m-1"})
    lock = ScriptedLock(answer)
    fake = FakeClient()
    output = CompletionService(cache, fake, fleet_lock=lock).complete(job())
    assert fake.calls == 0 and lock.keys == [output["cacheKey"]]
    assert (output["content"], output["cacheHit"], output["coalesced"]) == (
        "from another worker", "l2", True,
    )  # fmt: skip
    assert (output["usage"], output["model"]) == (usage, "m-1")


def test_no_fleet_lock_for_jobs_whose_answer_is_not_stored(cache: TwoTierCache) -> None:
    lock = ScriptedLock(None)
    service = CompletionService(cache, FakeClient(), fleet_lock=lock)
    service.complete(job(cache="no-store"))
    assert lock.keys == []
    service.complete(job("other"))
    assert len(lock.keys) == 1


def test_without_a_cache_every_job_calls(clock: FakeClock) -> None:
    fake = FakeClient(["a", LLMResult(content="b", model="m", provider="openai", usage=Usage())])
    service = CompletionService(None, fake)
    assert [service.complete(job())["content"] for _ in range(2)] == ["a", "b"]
    assert fake.calls == 2
