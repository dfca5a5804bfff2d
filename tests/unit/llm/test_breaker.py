from __future__ import annotations

from typing import Any

import pytest

from llmix_workers.errors import CircuitOpen
from llmix_workers.llm.breaker import BreakerState, CircuitBreaker
from llmix_workers.llm.retry import backoff_delay_s, is_retryable_status
from llmix_workers.testing.clock import FakeClock
from tests.llm_support import fake_time, load_fixture

FIXTURE: dict[str, Any] = load_fixture("circuit-breaker-scenarios.json")
DEFAULTS = FIXTURE["defaults"]
SCENARIOS: dict[str, dict[str, Any]] = FIXTURE["scenarios"]


def fixture_breaker(time: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(
        DEFAULTS["provider"],
        DEFAULTS["baseUrl"],
        failure_threshold=DEFAULTS["failureThreshold"],
        cooldown_s=DEFAULTS["cooldownMs"] / 1000,
        clock=time.clock,
    )


def bring_to(breaker: CircuitBreaker, time: FakeClock, state: str) -> None:
    if state == "HALF_OPEN":
        for _ in range(breaker.failure_threshold):
            breaker.on_failure(500)
        time.tick(breaker.cooldown_s)
    assert breaker.state.value == state


def play(breaker: CircuitBreaker, action: dict[str, Any]) -> None:
    if action["type"] == "success":
        breaker.on_success()
    elif action["type"] == "failure":
        breaker.on_failure(
            action.get("statusCode"), network_error=action.get("networkError", False)
        )
    elif action.get("expectError"):
        with pytest.raises(CircuitOpen):
            breaker.check()
    else:
        breaker.check()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_upstream_scenario(name: str) -> None:
    scenario = SCENARIOS[name]
    time = fake_time()
    breaker = fixture_breaker(time)
    bring_to(breaker, time, scenario["initialState"])
    for action in scenario["actions"]:
        play(breaker, action)
    assert breaker.state.value == scenario["expectedState"]


def test_fixture_status_lists_match_retryability() -> None:
    assert all(is_retryable_status(code) for code in FIXTURE["retryableStatusCodes"])
    assert not any(is_retryable_status(code) for code in FIXTURE["nonRetryableStatusCodes"])
    assert is_retryable_status(408)


@pytest.mark.parametrize(
    "case", FIXTURE["retryDelayScenarios"]["attempts"], ids=lambda case: f"attempt{case['attempt']}"
)
def test_upstream_retry_delay_range(case: dict[str, Any]) -> None:
    lowest = backoff_delay_s(case["attempt"], lambda: 0.0)
    highest = backoff_delay_s(case["attempt"], lambda: 1.0)
    assert lowest * 1000 == case["minMs"]
    assert highest * 1000 == case["maxMs"]


def test_open_breaker_says_how_long_to_wait_then_lets_one_probe_through() -> None:
    time = fake_time()
    breaker = fixture_breaker(time)
    for _ in range(3):
        breaker.on_failure(503)
    time.tick(10)
    with pytest.raises(CircuitOpen) as refused:
        breaker.check()
    assert refused.value.retry_after_s == 20
    assert refused.value.retryable
    time.tick(20)
    breaker.check()
    with pytest.raises(CircuitOpen):
        breaker.check()
    breaker.on_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.check()


def test_half_open_probe_answered_with_a_4xx_closes_the_breaker() -> None:
    time = fake_time()
    breaker = fixture_breaker(time)
    bring_to(breaker, time, "HALF_OPEN")
    breaker.check()
    breaker.on_failure(400)
    assert breaker.state is BreakerState.CLOSED


def test_released_probe_can_be_taken_again() -> None:
    time = fake_time()
    breaker = fixture_breaker(time)
    bring_to(breaker, time, "HALF_OPEN")
    breaker.check()
    breaker.release_probe()
    breaker.check()
    assert breaker.state is BreakerState.HALF_OPEN
