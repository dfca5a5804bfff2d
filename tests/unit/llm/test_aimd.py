from __future__ import annotations

import threading
from typing import Any

import pytest

from llmix_workers.llm.aimd import AdaptiveLimiter, RateLimitInfo, parse_ratelimit_headers
from tests.llm_support import load_fixture

FIXTURE: dict[str, Any] = load_fixture("aimd-scenarios.json")
DEFAULTS = FIXTURE["defaults"]


@pytest.mark.parametrize("scenario", FIXTURE["scenarios"], ids=lambda s: s["name"])
def test_upstream_window_scenario(scenario: dict[str, Any]) -> None:
    limiter = AdaptiveLimiter(scenario["initial"], DEFAULTS["min_concurrency"])
    for action in scenario["actions"]:
        if action["type"] == "success":
            limiter.on_success()
        elif action["type"] == "rate_limit":
            limiter.on_rate_limit()
        else:
            limiter.on_headers(RateLimitInfo(action["remaining"], action["limit"]))
    assert limiter.window == scenario["expected_window"]


@pytest.mark.parametrize("case", FIXTURE["header_parsing"], ids=lambda c: c["name"])
def test_upstream_header_parsing(case: dict[str, Any]) -> None:
    parsed = parse_ratelimit_headers(case["headers"])
    assert (parsed._asdict() if parsed else None) == case["expected"]


def test_a_full_window_refuses_a_slot_until_one_is_released() -> None:
    limiter = AdaptiveLimiter(4, 1)
    assert all(limiter.acquire(0) for _ in range(4))
    assert not limiter.acquire(0)
    limiter.release()
    assert limiter.acquire(0)
    assert limiter.in_flight == 4


def test_shrinking_lets_running_calls_finish_and_holds_new_ones() -> None:
    limiter = AdaptiveLimiter(8, 2)
    for _ in range(6):
        assert limiter.acquire(0)
    limiter.on_rate_limit()
    assert limiter.window == 4
    assert not limiter.acquire(0)
    for _ in range(3):
        limiter.release()
    assert limiter.acquire(0)


def test_a_waiting_caller_gets_the_slot_freed_by_another_thread() -> None:
    limiter = AdaptiveLimiter(1, 1)
    assert limiter.acquire(0)
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(limiter.acquire(None)))
    waiter.start()
    limiter.release()
    waiter.join(timeout=10)
    assert got == [True]


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="minimum"):
        AdaptiveLimiter(4, 8)
