"""The history of a nemesis run: lookups, clears, faults and provider calls, as JSONL.

Every time is this machine's wall clock (``time.time()``) read by a process whose clock is not
skewed: all namespaces share the kernel's clock, so times from different processes compare.
Where a moment cannot be observed exactly, the recorded time is a bound on the side that can
only hide a violation, never invent one: a lookup's ``start`` is at or before the real start
(the enqueue), a clear's ``start`` at or before the real start and its ``end`` (reported
complete) at or after the report; a lookup's origin is when the stub received the provider call
that produced the entry, at or before the entry was written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson

Tier = Literal["l1", "l2"]
ClearHow = Literal["cli", "task", "broadcast"]


@dataclass(frozen=True)
class Lookup:
    """One cache lookup and what it returned. ``tier`` is None for a miss (a provider call or
    a failure); ``call`` is the stub call number in the returned answer."""

    id: str
    process: str
    key: str
    start: float
    end: float
    tier: Tier | None = None
    call: int | None = None
    via: Literal["worker", "producer"] = "worker"
    error: str | None = None
    generation: int | None = None
    type: Literal["lookup"] = "lookup"


@dataclass(frozen=True)
class Clear:
    """One fleet clear: started ``start``, reported at ``end``, complete or not."""

    id: str
    how: ClearHow
    start: float
    end: float
    complete: bool
    detail: dict[str, Any] = field(default_factory=dict)
    type: Literal["clear"] = "clear"


@dataclass(frozen=True)
class Injected:
    """One injected fault from ``start`` to ``end`` (heal); ``target`` names what it hit."""

    kind: str
    target: str
    start: float
    end: float
    type: Literal["fault"] = "fault"


@dataclass(frozen=True)
class Call:
    """One provider call as the stub received it: number, arrival time, client address."""

    call: int
    at: float
    client: str = ""
    digest: str = ""
    type: Literal["call"] = "call"


Event = Lookup | Clear | Injected | Call
_TYPES: dict[str, type[Any]] = {"lookup": Lookup, "clear": Clear, "fault": Injected, "call": Call}


def to_line(event: Event) -> bytes:
    return orjson.dumps(asdict(event)) + b"\n"


def from_json(body: dict[str, Any]) -> Event | None:
    """The event a JSON object describes; None for another kind of line (run metadata)."""
    kind = _TYPES.get(str(body.get("type")))
    if kind is None:
        return None
    event: Event = kind(**body)
    return event


def read(paths: Iterable[Path]) -> list[Event]:
    """Every event of the JSONL files at ``paths`` (a torn last line is skipped)."""
    events: list[Event] = []
    for path in paths:
        for line in path.read_bytes().splitlines():
            try:
                body = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            event = from_json(body) if isinstance(body, dict) else None
            if event is not None:
                events.append(event)
    return events


def write(path: Path, events: Iterable[Event]) -> None:
    with path.open("wb") as out:
        for event in events:
            out.write(to_line(event))


class Recorder:
    """Appends events to a JSONL file as they happen; thread-safe, flushed per event."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._out: IO[bytes] = path.open("ab")

    def add(self, event: Event) -> None:
        with self._lock:
            self._out.write(to_line(event))
            self._out.flush()

    def close(self) -> None:
        with self._lock:
            self._out.close()


def now() -> float:
    """The time the history uses: this machine's wall clock."""
    return time.time()


def lookups(events: Iterable[Event]) -> Iterator[Lookup]:
    return (event for event in events if isinstance(event, Lookup))
