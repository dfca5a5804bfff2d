"""Each fault the stub plays leads to the right number of calls and the right outcome."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

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
from llmix_workers.llm.request import LLMRequest
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.stub import StubProvider
from tests.providers.conftest import ClientFactory


def ask(text: str = "hello", provider: str = "openai") -> LLMRequest:
    return LLMRequest(provider=provider, model="m", messages=[{"role": "user", "content": text}])


TRANSIENT = [
    (429, 1.0),
    (500, 1.5),
    (502, 1.5),
    (503, 1.5),
    (408, 1.5),
    ("reset", 1.5),
    ("truncated", 1.5),
    ("malformed", 1.5),
    ({"status": 503, "retry_after": 3}, 3.0),
]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(("fault", "wait"), TRANSIENT, ids=[str(f) for f, _ in TRANSIENT])
def test_a_transient_fault_is_retried_once_and_then_succeeds(
    fault: Any,
    wait: float,
    provider: str,
    stub: StubProvider,
    make_client: ClientFactory,
    time: FakeClock,
) -> None:
    stub.script(fault)
    result = make_client().complete(ask(provider=provider))
    assert result.content.startswith("Stub answer ")
    assert stub.calls()["total"] == 2
    assert time.sleeps == [wait]


def test_a_slow_answer_past_the_timeout_is_retried(
    stub: StubProvider, make_client: ClientFactory, time: FakeClock
) -> None:
    stub.script("slow=30000")
    result = make_client(timeout_s=2.0).complete(ask())
    assert result.content.startswith("Stub answer ")
    assert stub.calls()["by_outcome"] == {"slow": 1, "ok": 1}
    assert time.sleeps == [1.5]


def test_a_slow_answer_every_time_ends_in_provider_timeout(
    stub: StubProvider, make_client: ClientFactory
) -> None:
    client = make_client(timeout_s=0.2, max_attempts=2)
    with pytest.raises(ProviderTimeout) as raised:
        client.complete(ask("[[stub:slow=30000]]"))
    assert raised.value.retryable
    assert stub.calls()["total"] == 2


@pytest.mark.parametrize(
    ("marker", "error", "status"),
    [
        ("[[stub:500]]", ProviderUnavailable, 500),
        ("[[stub:503]]", ProviderUnavailable, 503),
        ("[[stub:429]]", RateLimited, 429),
        ("[[stub:reset]]", ProviderUnavailable, None),
        ("[[stub:malformed]]", ProviderUnavailable, None),
    ],
)
def test_a_fault_every_time_uses_every_attempt_then_raises(
    marker: str,
    error: type[LLMError],
    status: int | None,
    stub: StubProvider,
    make_client: ClientFactory,
    time: FakeClock,
) -> None:
    client = make_client(max_attempts=3, breaker_failure_threshold=10)
    with pytest.raises(error) as raised:
        client.complete(ask(f"please fail {marker}"))
    assert raised.value.status == status
    assert raised.value.retryable
    assert raised.value.retry_after_s is not None
    assert stub.calls()["total"] == 3
    assert len(time.sleeps) == 2


def test_400_is_final_and_carries_the_provider_message(
    stub: StubProvider, make_client: ClientFactory, time: FakeClock
) -> None:
    stub.script({"status": 400, "message": "max_tokens is too large: 999999"})
    with pytest.raises(BadRequest, match="openai answered 400: max_tokens is too large: 999999"):
        make_client().complete(ask())
    assert stub.calls()["total"] == 1
    assert time.sleeps == []


def test_anthropic_400_message_is_read_from_its_error_format(
    stub: StubProvider, make_client: ClientFactory
) -> None:
    with pytest.raises(BadRequest, match="the prompt asked for a 400") as raised:
        make_client().complete(ask("[[stub:400]]", provider="anthropic"))
    assert raised.value.status == 400
    assert not raised.value.retryable


def test_401_with_a_single_key_is_final(stub: StubProvider, make_client: ClientFactory) -> None:
    stub.script(401)
    with pytest.raises(AuthError) as raised:
        make_client().complete(ask())
    assert raised.value.status == 401
    assert stub.calls()["total"] == 1


def test_retry_after_seconds_is_honoured(
    stub: StubProvider, make_client: ClientFactory, time: FakeClock
) -> None:
    stub.script("429=4", "429=2")
    make_client().complete(ask())
    assert time.sleeps == [4.0, 2.0]
    assert stub.calls()["total"] == 3


def test_retry_after_http_date_is_honoured(
    stub: StubProvider, make_client: ClientFactory, time: FakeClock
) -> None:
    stub.script({"status": 503, "retry_after": formatdate(time.wall() + 3, usegmt=True)})
    make_client().complete(ask())
    assert time.sleeps == [3.0]
    assert stub.calls()["total"] == 2


def test_retry_after_is_capped_at_60_s(
    stub: StubProvider, make_client: ClientFactory, time: FakeClock
) -> None:
    stub.script({"status": 429, "retry_after": formatdate(time.wall() + 600, usegmt=True)})
    with pytest.raises(RateLimited) as raised:
        make_client().complete(ask())
    assert raised.value.retry_after_s == 60.0
    assert time.sleeps == []
    assert stub.calls()["total"] == 1


def test_a_retry_after_longer_than_the_inline_wait_is_handed_back(
    stub: StubProvider, make_client: ClientFactory, time: FakeClock
) -> None:
    stub.script("429=30")
    with pytest.raises(RateLimited) as raised:
        make_client(max_inline_wait_s=5).complete(ask())
    assert raised.value.retry_after_s == 30.0
    assert raised.value.status == 429
    assert time.sleeps == []
    assert stub.calls()["total"] == 1


def test_breaker_opens_after_three_failing_sequences_and_recovers(
    stub: StubProvider, make_client: ClientFactory, time: FakeClock
) -> None:
    client = make_client(max_attempts=2, breaker_failure_threshold=3)
    stub.script(503, 503, 503)
    with pytest.raises(ProviderUnavailable):
        client.complete(ask())
    assert client.breaker("openai").state is BreakerState.CLOSED
    with pytest.raises(ProviderUnavailable) as raised:
        client.complete(ask())
    assert raised.value.retry_after_s == 30.0
    assert client.breaker("openai").state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        client.complete(ask())
    assert stub.calls()["total"] == 3
    time.tick(30)
    assert client.complete(ask()).content.startswith("Stub answer ")
    assert client.breaker("openai").state is BreakerState.CLOSED
    assert stub.calls()["total"] == 4


def test_429_rate_limit_headers_halve_the_window_and_ok_headers_steer_it(
    stub: StubProvider, make_client: ClientFactory
) -> None:
    client = make_client(concurrency_initial=32)  # the window of the LLMix scenarios
    headers = {"x-ratelimit-remaining-requests": "25", "x-ratelimit-limit-requests": "500"}
    stub.script(429, {"kind": "ok", "headers": headers})
    result = client.complete(ask())
    assert result.headers["x-ratelimit-remaining-requests"] == "25"
    assert client.limiter("openai").window == 18
