"""RequeuePlan: tries that reached the provider spend ``max_requeues``; tries refused locally
(open breaker, full window) spend only time, up to ``max_circuit_wait_s``."""

from __future__ import annotations

import pytest

from llmix_workers.errors import BadRequest, CircuitOpen, LLMError, RateLimited
from llmix_workers.settings import Settings
from llmix_workers.worker.requeue import MIN_COUNTDOWN_S, RequeuePlan

LIMITS = Settings(worker={"max_requeues": 2, "max_circuit_wait_s": 10.0}).worker


def failed(error: LLMError, calls: int, retry_after_s: float | None = 2.0) -> LLMError:
    error.provider_calls = calls
    error.retry_after_s = retry_after_s
    return error


def test_tries_that_reached_the_provider_spend_max_requeues() -> None:
    plan = RequeuePlan(LIMITS)
    error = failed(RateLimited("429", status=429), calls=1)
    for spent in range(2):
        assert plan.requeues == spent
        assert plan.countdown(error) == 2.0  # the wait the error asked for, no jitter
        assert plan.allows(error)
        plan = plan.after(error, 2.0)
    assert plan.countdown(error) is None  # the third would pass max_requeues: the job fails
    assert not plan.allows(error)
    assert plan.circuit_wait_s == 0.0


def test_refused_tries_spend_time_not_requeues_and_are_jittered() -> None:
    plan = RequeuePlan(LIMITS, requeues=2)  # max_requeues already spent
    error = failed(CircuitOpen("circuit open"), calls=0, retry_after_s=3.0)
    waits = []
    while (countdown := plan.countdown(error)) is not None:
        assert 3.0 <= countdown <= 4.0
        assert plan.allows(error)
        waits.append(countdown)
        plan = plan.after(error, countdown)
        assert plan.requeues == 2
    assert len(waits) in (2, 3)  # 3-4 s each, 10 s in all
    assert plan.circuit_wait_s == pytest.approx(sum(waits))
    assert plan.circuit_wait_s <= LIMITS.max_circuit_wait_s
    assert not plan.allows(error)


def test_a_final_error_and_a_zero_wait() -> None:
    plan = RequeuePlan(LIMITS)
    assert plan.countdown(failed(BadRequest("400", status=400), calls=1)) is None
    refused = failed(RateLimited("window full"), calls=0, retry_after_s=0.01)
    assert MIN_COUNTDOWN_S <= plan.countdown(refused) <= MIN_COUNTDOWN_S + 1.0  # type: ignore[operator]
    unknown = failed(RateLimited("window full"), calls=0, retry_after_s=None)
    assert 1.0 <= plan.countdown(unknown) <= 2.0  # type: ignore[operator]
    no_budget = RequeuePlan(Settings(worker={"max_circuit_wait_s": 0}).worker)
    assert no_budget.countdown(refused) is None


def test_the_setting_is_validated() -> None:
    with pytest.raises(ValueError, match="max_circuit_wait_s"):
        Settings(worker={"max_circuit_wait_s": -1})


def test_a_refused_try_never_waits_past_half_the_visibility_timeout() -> None:
    """A Redis broker redelivers a message whose countdown outlasts the visibility timeout while
    the worker still holds it: every copy would re-queue again."""
    limits = Settings(worker={"visibility_timeout_s": 4, "max_circuit_wait_s": 300}).worker
    refused = failed(CircuitOpen("circuit open"), calls=0, retry_after_s=30.0)
    countdown = RequeuePlan(limits).countdown(refused)
    assert countdown is not None and countdown <= 2.0
    default = RequeuePlan(Settings().worker).countdown(refused)  # 600 s: the wait asked for
    assert default is not None and default >= 30.0
    answered = failed(RateLimited("429", status=429), calls=1, retry_after_s=30.0)
    assert RequeuePlan(limits).countdown(answered) == 30.0  # the provider's Retry-After holds
