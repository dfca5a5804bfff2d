"""SingleFlight: identical calls in flight in one process share one execution."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Flight(Generic[T]):
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class SingleFlight(Generic[T]):
    """Per-key deduplication of concurrent calls (Go's ``singleflight``), scope: one process.

    The first caller of a key runs ``fn``; callers arriving while it runs wait and get the
    same outcome (result or exception). Once it finishes, the key is free again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight[T]] = {}

    def do(self, key: str, fn: Callable[[], T]) -> tuple[T, bool]:
        """Return ``(result, leader)``; ``leader`` is False when another caller ran ``fn``."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.result, False  # type: ignore[return-value]
        try:
            flight.result = fn()
            return flight.result, True
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()

    def in_flight(self) -> int:
        """How many keys are running now."""
        return len(self._flights)
