"""Outage: one Redis server that stopped answering in time, as every part of a process sees it.

A hung Redis (a frozen process, a dropped network path) costs each command a whole socket
timeout. The parts of a process that talk to one Redis on a job's path (the L2 lookup and write,
the fleet member's inline check, the fleet lock) share one ``Outage`` per URL: after any of them
times out, all of them leave that Redis alone for ``cooloff_s``, so a job pays at most one
timeout per Redis. Background work (the member's own thread) keeps probing; its timeouts extend
the window and its first answer ends it. A refused connection costs nothing and is no outage.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Outage:
    """Thread-safe without a lock: one float, written whole."""

    def __init__(self, cooloff_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._cooloff_s = cooloff_s
        self._monotonic = monotonic
        self._until = 0.0

    def quiet(self) -> bool:
        """True while the Redis timed out less than ``cooloff_s`` ago and has not answered."""
        until = self._until
        return bool(until) and self._monotonic() < until

    def timed_out(self) -> None:
        """A command to this Redis timed out just now."""
        self._until = self._monotonic() + self._cooloff_s

    def answered(self) -> None:
        """This Redis answered a command just now."""
        if self._until:
            self._until = 0.0
