"""FakeClock: one hand-cranked clock for every TTL, cool-off, retry and breaker test.

cachetools' ``timer=`` idea: pass the instance (it is callable) or its bound methods wherever a
clock, a ``sleep`` or a wall clock is taken.
"""

from __future__ import annotations

#: Where :meth:`FakeClock.wall` starts counting by default: Wed, 21 Oct 2015 07:28:00 GMT.
WALL_EPOCH = 1445412480.0


class FakeClock:
    """Returns ``now`` until ticked or slept through; records every sleep."""

    def __init__(self, start: float = 1_700_000_000.0, *, wall_start: float | None = None) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._wall_offset = (wall_start if wall_start is not None else start) - start

    def __call__(self) -> float:
        return self.now

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        """Wall-clock seconds moving with this clock (for HTTP-date ``Retry-After``)."""
        return self.now + self._wall_offset

    def tick(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
