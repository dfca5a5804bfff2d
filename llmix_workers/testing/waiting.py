"""eventually: wait for a condition, never for a fixed time (tests, harness and demo alike).

A test that sleeps a fixed time passes on a quiet machine and fails on a loaded one; a test that
polls a condition with a deadline generous for a slow, loaded machine waits only as long as the
machine needs. The deadline only bounds a hang: it is never the thing under test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Seconds to wait for a condition when the caller does not say: generous for a slow, loaded
#: 2-core machine (the per-test timeout, 120 s by default, still bounds the whole test).
DEFAULT_TIMEOUT_S = 60.0


class NeverHappened(AssertionError):
    """Raised when a condition awaited by :func:`eventually` stays false past its deadline."""


def eventually(
    check: Callable[[], T],
    what: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    interval_s: float = 0.05,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``check`` until it returns a true value, and return that value.

    ``ignoring`` lists exceptions that mean "not yet" (a server still starting); the last one
    seen is named if the deadline passes.

    Raises:
        NeverHappened: ``check`` stayed false for ``timeout_s`` seconds; names ``what``.
    """
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while True:
        try:
            value = check()
        except ignoring as exc:
            last = exc
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            detail = f" (last error: {last!r})" if last is not None else ""
            raise NeverHappened(f"not within {timeout_s:g} s: {what}{detail}")
        time.sleep(interval_s)
