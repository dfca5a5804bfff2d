"""Helpers for the LLM tests: fixture files, hand-cranked time, a recognisable fake key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"

#: Fake keys a test can search for in every log record and error text.
SECRET_KEY = "sk-test-SECRET-0123456789abcdef"
SECOND_KEY = "sk-test-SECOND-fedcba9876543210"


def load_fixture(name: str) -> Any:
    """One of the upstream LLMix fixture files in ``tests/fixtures``."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


#: Where :meth:`FakeTime.wall` starts counting: Wed, 21 Oct 2015 07:28:00 GMT.
WALL_EPOCH = 1445412480.0


class FakeTime:
    """Monotonic time that moves only when slept through or ticked; records every sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        """Wall-clock seconds moving with the monotonic clock (for HTTP-date Retry-After)."""
        return WALL_EPOCH + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def tick(self, seconds: float) -> None:
        self.now += seconds


def half() -> float:
    """A ``random`` that always draws the middle: half a second of jitter."""
    return 0.5
