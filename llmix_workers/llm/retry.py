"""When to retry and how long to wait: the LLMix backoff rules (docs/explanations/design.md).

Delay before retry ``n`` (0-based) = ``min(2**n * 1 s, 30 s)`` + a jitter of up to 1 s, unless
the provider sent ``Retry-After`` (seconds or an HTTP date), which wins up to a cap
(``llm.retry_after_cap_s``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

BASE_DELAY_S = 1.0
MAX_DELAY_S = 30.0
JITTER_S = 1.0


def is_retryable_status(status: int) -> bool:
    """True for 408, 429 and every 5xx."""
    return status in (408, 429) or 500 <= status <= 599


def backoff_delay_s(
    attempt: int,
    random: Callable[[], float],
    *,
    base_s: float = BASE_DELAY_S,
    max_s: float = MAX_DELAY_S,
    jitter_s: float = JITTER_S,
) -> float:
    """Seconds to wait before retry ``attempt`` (0 for the first retry); ``random()`` in [0, 1]."""
    exponential = max_s if attempt >= 64 else min(2**attempt * base_s, max_s)
    return exponential + random() * jitter_s


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks for, or ``None`` when absent or unreadable.

    ``now`` is the wall-clock time (Unix seconds) an HTTP-date value is measured from; a date in
    the past means 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        return max(moment.timestamp() - now, 0.0)
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return None
    return seconds


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a call gets and how long it may wait between them, in seconds.

    A wait longer than ``max_inline_wait_s`` is not slept: the caller gives up and hands the
    wait to whoever can wait better (a Celery task re-queued with a countdown).
    """

    max_attempts: int
    max_inline_wait_s: float
    retry_after_cap_s: float
    base_delay_s: float = BASE_DELAY_S
    max_delay_s: float = MAX_DELAY_S
    jitter_s: float = JITTER_S

    def delay_s(
        self, attempt: int, retry_after_s: float | None, random: Callable[[], float]
    ) -> float:
        """Wait before retry ``attempt``: the provider's ``Retry-After`` if any, else backoff."""
        if retry_after_s is not None:
            return min(retry_after_s, self.retry_after_cap_s)
        return backoff_delay_s(
            attempt,
            random,
            base_s=self.base_delay_s,
            max_s=self.max_delay_s,
            jitter_s=self.jitter_s,
        )
