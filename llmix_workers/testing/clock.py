"""FakeClock: a hand-cranked clock for TTL and cool-off tests (cachetools' ``timer=`` idea)."""

from __future__ import annotations


class FakeClock:
    """Returns ``now`` until told to ``tick``; pass the instance wherever a clock is taken."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds
