"""Helpers for the LLM tests: fixture files, their clock, a recognisable fake key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmix_workers.testing.clock import WALL_EPOCH, FakeClock

FIXTURES = Path(__file__).parent / "fixtures"

#: Fake keys a test can search for in every log record and error text.
SECRET_KEY = "sk-test-SECRET-0123456789abcdef"
SECOND_KEY = "sk-test-SECOND-fedcba9876543210"


def load_fixture(name: str) -> Any:
    """One of the upstream LLMix fixture files in ``tests/fixtures``."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fake_time() -> FakeClock:
    """The LLM tests' clock: monotonic from 1000 s, wall clock from 21 Oct 2015 07:28 GMT."""
    return FakeClock(1000.0, wall_start=WALL_EPOCH + 1000.0)


def half() -> float:
    """A ``random`` that always draws the middle: half a second of jitter."""
    return 0.5
