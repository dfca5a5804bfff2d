"""ResilientClient with fleet-wide budgets: drawn before each call, waited for, refused like a
full window (no provider call), settled from usage, shrunk by a 429."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from llmix_workers.errors import BudgetExhausted, LLMError, RateLimited
from llmix_workers.llm.budgets import estimate_tokens, parse_duration_s, spent_for_s
from llmix_workers.llm.request import LLMRequest, LLMResult
from llmix_workers.llm.resilient import ResilientClient
from llmix_workers.llm.retry import RetryPolicy
from llmix_workers.settings import LLMSettings
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.fake_client import FakeClient
from tests.llm_support import fake_time, half

REQUEST = LLMRequest(provider="openai", model="m", messages=[{"role": "user", "content": "x" * 40}])


@dataclass
class Ticket:
    granted: bool
    wait_s: float
    settled: list[int] = field(default_factory=list)
    shrunk: list[float | None] = field(default_factory=list)
    held: list[float] = field(default_factory=list)

    def settle(self, used_tokens: int) -> None:
        self.settled.append(used_tokens)

    def shrink(self, retry_after_s: float | None) -> None:
        self.shrunk.append(retry_after_s)

    def hold(self, seconds: float) -> None:
        self.held.append(seconds)


@dataclass
class Budgets:
    """Hands out the scripted tickets in order and records each draw."""

    tickets: list[Ticket]
    draws: list[tuple[str, str, int, float]] = field(default_factory=list)

    def draw(self, provider: str, model: str, tokens: int, max_wait_s: float) -> Ticket:
        self.draws.append((provider, model, tokens, max_wait_s))
        return self.tickets[len(self.draws) - 1]


class Failures:
    """A ResilienceObserver that keeps the failed attempts it is told of."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def attempt_failed(self, provider: str, error: LLMError) -> None:
        self.failed.append(type(error).__name__)

    def retrying(self, provider: str) -> None:
        return None

    def breaker_moved(self, provider: str, state: str) -> None:
        return None


def client(
    fake: FakeClient, time: FakeClock, budgets: Budgets, observer: Failures | None = None
) -> ResilientClient:
    return ResilientClient(
        fake,
        policy=RetryPolicy(max_attempts=4, max_inline_wait_s=5.0, retry_after_cap_s=60.0),
        breaker_failure_threshold=3,
        breaker_cooldown_s=30.0,
        concurrency_initial=8,
        concurrency_min=1,
        clock=time.clock,
        sleep=time.sleep,
        random=half,
        budgets=budgets,
        budget_output_tokens=100,
        observer=observer,
    )


def test_a_call_draws_its_estimate_waits_its_turn_and_settles_the_usage() -> None:
    time, ticket = fake_time(), Ticket(True, 1.5)
    budgets = Budgets([ticket])
    result = client(FakeClient(), time, budgets).complete(REQUEST)
    assert budgets.draws == [("openai", "m", 10 + 100, 5.0)]
    assert time.sleeps == [1.5]
    assert ticket.settled == [result.usage.input_tokens + result.usage.output_tokens]


def test_a_turn_too_far_away_is_refused_before_any_provider_call() -> None:
    fake, time, failures = FakeClient(), fake_time(), Failures()
    budgets = Budgets([Ticket(False, 42.0)])
    with pytest.raises(BudgetExhausted) as raised:
        client(fake, time, budgets, failures).complete(REQUEST)
    assert fake.calls == 0
    assert failures.failed == []  # a refusal is no provider error
    assert raised.value.provider_calls == 0  # the re-queue spends nothing
    assert raised.value.retry_after_s == 42.0
    assert raised.value.retryable


def test_a_429_shrinks_the_budget_with_its_retry_after() -> None:
    first, second = Ticket(True, 0.0), Ticket(True, 0.0)
    fake = FakeClient([RateLimited("slow down", status=429, retry_after_s=2.0), "fine"])
    client(fake, fake_time(), Budgets([first, second])).complete(REQUEST)
    assert first.shrunk == [2.0] and first.settled == []
    assert second.shrunk == [] and len(second.settled) == 1


def test_budgets_need_an_output_estimate() -> None:
    with pytest.raises(ValueError, match="budget_output_tokens"):
        ResilientClient.__init__(
            client(FakeClient(), fake_time(), Budgets([])), FakeClient(),
            policy=RetryPolicy(max_attempts=1, max_inline_wait_s=1, retry_after_cap_s=1),
            breaker_failure_threshold=1, breaker_cooldown_s=1, concurrency_initial=1,
            concurrency_min=1, budgets=Budgets([]),
        )  # fmt: skip


def test_the_estimate_counts_text_parts_and_max_output_tokens() -> None:
    parts = [{"type": "text", "text": "y" * 8}, {"type": "image_url", "image_url": {}}]
    request = LLMRequest(
        provider="openai", model="m", max_output_tokens=7,
        messages=[{"role": "system", "content": "z" * 5}, {"role": "user", "content": parts}],
    )  # fmt: skip
    assert estimate_tokens(request, LLMSettings().budget_output_tokens) == 2 + 2 + 7


def test_a_success_whose_headers_say_nothing_is_left_holds_the_budget() -> None:
    spent = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1.5s",
             "x-ratelimit-remaining-tokens": "120", "x-ratelimit-reset-tokens": "6m0s"}  # fmt: skip
    ticket, plenty = Ticket(True, 0.0), Ticket(True, 0.0)
    answer = LLMResult(content="a", model="m", provider="openai", headers=spent)
    fake = FakeClient([answer, "b"])
    resilient = client(fake, fake_time(), Budgets([ticket, plenty]))
    resilient.complete(REQUEST)
    resilient.complete(REQUEST)
    assert ticket.held == [1.5] and plenty.held == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("59ms", 0.059), ("0.5s", 0.5), ("1h2m", 3720.0),
     ("", None), ("soon", None), ("5", None), ("1s junk", None)],
)  # fmt: skip
def test_reset_durations(text: str, seconds: float | None) -> None:
    assert parse_duration_s(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_spent_only_when_something_is_at_zero() -> None:
    assert spent_for_s({"x-ratelimit-remaining-tokens": "0"}) == 0.0
    assert spent_for_s({"x-ratelimit-remaining-requests": "3"}) is None
