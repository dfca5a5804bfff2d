from __future__ import annotations

from email.utils import format_datetime, parsedate_to_datetime

import pytest

from llmix_workers.llm.retry import RetryPolicy, backoff_delay_s, parse_retry_after

NOW = parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("Wed, 21 Oct 2015 07:28:07 GMT", 7.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("-1", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_http_date_is_measured_from_the_given_wall_clock() -> None:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(NOW + 42, tz=UTC)
    assert parse_retry_after(format_datetime(moment, usegmt=True), NOW) == 42.0


def test_backoff_doubles_then_caps() -> None:
    delays = [backoff_delay_s(attempt, lambda: 0.0) for attempt in range(7)]
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert backoff_delay_s(10_000, lambda: 0.0) == 30


def test_retry_after_wins_over_backoff_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=4, max_inline_wait_s=5, retry_after_cap_s=60)
    assert policy.delay_s(0, 7.0, lambda: 0.5) == 7.0
    assert policy.delay_s(0, 600.0, lambda: 0.5) == 60.0
    assert policy.delay_s(2, None, lambda: 0.5) == 4.5
