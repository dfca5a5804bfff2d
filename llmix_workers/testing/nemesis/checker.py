"""The checker: a completed clear is final.

A violation is a lookup that started after a clear reported complete and returned an entry
whose origin (the moment the stub received the provider call that produced it) is before that
clear started. Misses, incomplete clears and lookups that started before the report are not
judged. A hit whose origin cannot be found (no call number, or a number the stub never logged)
is reported apart as *untraced*: the history cannot vouch for it either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from llmix_workers.testing.nemesis.history import Call, Clear, Event, Injected, Lookup


@dataclass(frozen=True)
class Violation:
    """A lookup that returned something from before a clear that had reported complete."""

    lookup: Lookup
    clear: Clear
    origin: float
    #: Kinds of the faults active at some moment between the clear's start and the lookup's end.
    faults: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """``<tier> on <worker|producer>``: where the stale entry came from."""
        return f"{self.lookup.tier} on {self.lookup.via}"

    def describe(self) -> str:
        lookup, clear = self.lookup, self.clear
        return (
            f"lookup {lookup.id} on {lookup.process} ({lookup.key}) started "
            f"{lookup.start - clear.end:+.3f}s after clear {clear.id} ({clear.how}) reported "
            f"complete, and returned a {lookup.tier} entry from call {lookup.call}, made "
            f"{clear.start - self.origin:.3f}s before that clear started"
            + (f"; faults: {', '.join(self.faults)}" if self.faults else "")
        )


@dataclass
class Verdict:
    """What the checker found in one history."""

    violations: list[Violation] = field(default_factory=list)
    lookups: int = 0
    hits: int = 0
    #: Hits that started after some complete clear: the ones the rule judges.
    judged: int = 0
    clears: int = 0
    complete_clears: int = 0
    untraced: list[Lookup] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def by_kind(self) -> dict[str, int]:
        return dict(Counter(v.kind for v in self.violations))

    def by_fault(self) -> dict[str, int]:
        return dict(Counter(", ".join(v.faults) or "none" for v in self.violations))

    def summary(self) -> str:
        head = (
            f"{len(self.violations)} violation(s) in {self.lookups} lookups ({self.hits} hits, "
            f"{self.judged} judged) across {self.complete_clears}/{self.clears} complete clears"
        )
        return "\n".join([head, *(v.describe() for v in self.violations[:20])])


def check(events: Iterable[Event]) -> Verdict:
    """Judge a history; see the module docstring for the rule."""
    events = list(events)
    calls = {e.call: e.at for e in events if isinstance(e, Call)}
    clears = [e for e in events if isinstance(e, Clear)]
    complete = sorted((c for c in clears if c.complete), key=lambda c: c.end)
    faults = [e for e in events if isinstance(e, Injected)]
    verdict = Verdict(clears=len(clears), complete_clears=len(complete))
    for lookup in (e for e in events if isinstance(e, Lookup)):
        verdict.lookups += 1
        if lookup.tier is None:
            continue
        verdict.hits += 1
        before = [c for c in complete if c.end < lookup.start]
        if not before:
            continue
        verdict.judged += 1
        origin = calls.get(lookup.call) if lookup.call is not None else None
        if origin is None:
            verdict.untraced.append(lookup)
            continue
        broken = [c for c in before if origin < c.start]
        if broken:
            clear = max(broken, key=lambda c: c.end)  # the latest clear it survived
            active = _active(faults, clear.start, lookup.end)
            verdict.violations.append(Violation(lookup, clear, origin, active))
    verdict.violations.sort(key=lambda v: v.lookup.start)
    return verdict


def _active(faults: Sequence[Injected], start: float, end: float) -> tuple[str, ...]:
    return tuple(sorted({f.kind for f in faults if f.start <= end and f.end >= start}))
