from __future__ import annotations

import pytest

from llmix_workers.errors import (
    AuthError,
    BadRequest,
    CircuitOpen,
    LLMError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from llmix_workers.llm.breaker import BreakerState
from llmix_workers.llm.request import LLMRequest, LLMResult
from llmix_workers.llm.resilient import ResilientClient
from llmix_workers.llm.retry import RetryPolicy
from llmix_workers.settings import LLMSettings
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.fake_client import FakeClient
from tests.llm_support import fake_time, half

#: The LLMix AIMD window's start (tests/fixtures/aimd-scenarios.json); the package's default
#: follows the worker's concurrency instead (settings.sizing.window_ceiling).
LLMIX_AIMD_START = 32
REQUEST = LLMRequest(provider="openai", model="m", messages=[{"role": "user", "content": "hi"}])


def resilient(
    fake: FakeClient, time: FakeClock, *, breaker_at: int = 3, **policy: float
) -> ResilientClient:
    llm = LLMSettings()
    rules: dict[str, float] = {
        "max_attempts": llm.max_attempts,
        "max_inline_wait_s": llm.max_inline_wait_s,
        "retry_after_cap_s": llm.retry_after_cap_s,
    }
    return ResilientClient(
        fake,
        policy=RetryPolicy(**{**rules, **policy}),  # type: ignore[arg-type]
        breaker_failure_threshold=breaker_at,
        breaker_cooldown_s=llm.breaker_cooldown_s,
        concurrency_initial=LLMIX_AIMD_START,
        concurrency_min=llm.concurrency_min,
        clock=time.clock,
        sleep=time.sleep,
        random=half,
    )


def unavailable() -> ProviderUnavailable:
    return ProviderUnavailable("down", status=503)


@pytest.mark.parametrize(
    "error",
    [
        RateLimited("slow down", status=429),
        ProviderUnavailable("down", status=500),
        ProviderUnavailable("reset"),
        ProviderTimeout("late"),
        ProviderTimeout("late", status=408),
    ],
    ids=["429", "500", "network", "timeout", "408"],
)
def test_a_retryable_error_is_retried_after_backoff(error: LLMError) -> None:
    time = fake_time()
    fake = FakeClient([error, "fine"])
    result = resilient(fake, time).complete(REQUEST)
    assert result.content == "fine"
    assert fake.calls == 2
    assert time.sleeps == [1.5]


@pytest.mark.parametrize(
    "error",
    [BadRequest("no", status=400), AuthError("who?", status=401), BadRequest("gone", status=404)],
    ids=["400", "401", "404"],
)
def test_a_final_error_is_raised_at_once(error: LLMError) -> None:
    time = fake_time()
    fake = FakeClient([error, "never"])
    with pytest.raises(type(error)) as raised:
        resilient(fake, time).complete(REQUEST)
    assert raised.value is error
    assert fake.calls == 1
    assert time.sleeps == []


def test_attempts_run_out_and_the_last_error_says_when_to_come_back() -> None:
    time = fake_time()
    fake = FakeClient([RateLimited("a", status=429)] * 5)
    client = resilient(fake, time, breaker_at=10, max_attempts=3)
    with pytest.raises(RateLimited) as raised:
        client.complete(REQUEST)
    assert fake.calls == 3
    assert time.sleeps == [1.5, 2.5]
    assert raised.value.retry_after_s == 4.5


def test_retry_after_is_honoured_inline_when_short() -> None:
    time = fake_time()
    fake = FakeClient([RateLimited("a", status=429, retry_after_s=3.0), "ok"])
    resilient(fake, time).complete(REQUEST)
    assert time.sleeps == [3.0]


def test_a_long_wait_is_handed_back_instead_of_slept() -> None:
    time = fake_time()
    fake = FakeClient([RateLimited("a", status=429, retry_after_s=20.0), "ok"])
    with pytest.raises(RateLimited) as raised:
        resilient(fake, time, max_inline_wait_s=5).complete(REQUEST)
    assert raised.value.retry_after_s == 20.0
    assert time.sleeps == []
    assert fake.calls == 1


def test_retry_after_is_capped() -> None:
    time = fake_time()
    fake = FakeClient([RateLimited("a", status=429, retry_after_s=3600.0)])
    with pytest.raises(RateLimited) as raised:
        resilient(fake, time, retry_after_cap_s=60).complete(REQUEST)
    assert raised.value.retry_after_s == 60.0


def test_breaker_opens_after_three_failing_calls_and_recovers_after_cooldown() -> None:
    time = fake_time()
    fake = FakeClient([unavailable()] * 3)
    client = resilient(fake, time, max_attempts=1)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            client.complete(REQUEST)
    with pytest.raises(CircuitOpen) as refused:
        client.complete(REQUEST)
    assert fake.calls == 3
    assert refused.value.retry_after_s == 30.0
    assert refused.value.provider_calls == 0  # refused without a call: the re-queue is free
    time.tick(30)
    assert client.complete(REQUEST).provider == "openai"
    assert client.breaker("openai").state is BreakerState.CLOSED
    assert fake.calls == 4


def test_an_open_breaker_ends_the_retries_of_the_call_that_opened_it() -> None:
    time = fake_time()
    fake = FakeClient([unavailable()] * 10)
    with pytest.raises(ProviderUnavailable) as raised:
        resilient(fake, time, max_attempts=10).complete(REQUEST)
    assert fake.calls == 3
    assert time.sleeps == [1.5, 2.5]
    assert raised.value.retry_after_s == 30.0
    assert raised.value.provider_calls == 3


def test_breakers_are_per_base_url() -> None:
    time = fake_time()
    fake = FakeClient([unavailable()] * 3)
    client = resilient(fake, time, max_attempts=1)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            client.complete(REQUEST)
    other = REQUEST.model_copy(update={"base_url": "http://elsewhere/v1"})
    assert client.complete(other).content.startswith("fake answer")
    assert client.breaker("openai", "http://elsewhere/v1").state is BreakerState.CLOSED
    assert client.breaker("openai").state is BreakerState.OPEN


def test_auth_errors_never_open_the_breaker() -> None:
    time = fake_time()
    fake = FakeClient([AuthError("no", status=401)] * 5)
    client = resilient(fake, time)
    for _ in range(5):
        with pytest.raises(AuthError):
            client.complete(REQUEST)
    assert client.breaker("openai").state is BreakerState.CLOSED


def test_429_halves_the_window_and_headers_steer_it() -> None:
    time = fake_time()
    headers = {"x-ratelimit-remaining-requests": "25", "x-ratelimit-limit-requests": "500"}
    steering = LLMResult(content="ok", model="m", provider="openai", headers=headers)
    fake = FakeClient([RateLimited("a", status=429), "ok", steering])
    client = resilient(fake, time)
    client.complete(REQUEST)
    assert client.limiter("openai").window == 17
    client.complete(REQUEST)
    assert client.limiter("openai").window == 18
    assert client.limiter("openai").in_flight == 0


def test_a_full_window_raises_rate_limited_without_calling() -> None:
    time = fake_time()
    fake = FakeClient()
    client = resilient(fake, time, max_inline_wait_s=0, max_attempts=1)
    limiter = client.limiter("openai")
    while limiter.acquire(0):
        pass
    with pytest.raises(RateLimited, match="concurrency slots") as raised:
        client.complete(REQUEST)
    assert fake.calls == 0
    assert raised.value.retry_after_s == 1.5
    assert raised.value.provider_calls == 0


def test_from_settings_takes_the_llm_section() -> None:
    settings = LLMSettings(max_attempts=2, breaker_failure_threshold=5, concurrency_initial=8)
    client = ResilientClient.from_settings(FakeClient(), settings)
    assert client.policy.max_attempts == 2
    assert client.breaker("x").failure_threshold == 5
    assert client.limiter("x").window == 8


def test_errors_raised_before_reaching_the_provider_leave_the_breaker_alone() -> None:
    time = fake_time()
    local = AuthError("no API key for openai")
    fake = FakeClient([unavailable(), unavailable(), local, unavailable()])
    client = resilient(fake, time, max_attempts=1)
    outcomes = []
    for _ in range(4):
        with pytest.raises(LLMError) as raised:
            client.complete(REQUEST)
        outcomes.append(raised.value)
    assert outcomes[2] is local
    assert fake.calls == 4
    assert not isinstance(outcomes[3], CircuitOpen)
    assert client.breaker("openai").state is BreakerState.OPEN
