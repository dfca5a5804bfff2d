"""Stamp: where a process stands in the fleet's history of clears, and what it may serve.

A fleet's state has an *epoch* (a random token set once per life of the state: a Redis that lost
its data gets a new one) and a *generation* that every clear moves forward. A process confirms
both from Redis and serves under the stamp it confirmed. Everything it caches carries that
stamp: L1 entries by reference, L2 entries as the ``fleet_gen`` field (``"<epoch>:<generation>"``),
which other LLMix readers ignore. A reader serves an L2 entry only when the entry's stamp is not
older than its own, so an answer computed before a clear is never served after it, even when
the clear's deletion missed it or the answer was written after the deletion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

#: The L2 entry field holding the stamp its writer computed it under.
STAMP_FIELD: Final = "fleet_gen"


@dataclass(frozen=True, slots=True)
class Stamp:
    """An epoch and a generation; ``tag`` is what L2 entries written under it carry (``None``
    outside a fleet: a process on its own writes untagged entries and reads any)."""

    epoch: str
    generation: int
    fleet: bool = True
    tag: str | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        tag = f"{self.epoch}:{self.generation}" if self.fleet else None
        object.__setattr__(self, "tag", tag)

    def admits(self, tag: object) -> bool:
        """Whether an L2 entry written under ``tag`` may be served by a process at this stamp.

        Untagged entries (other LLMix bindings, or written outside a fleet) are admitted: a clear
        deletes them. A tagged one is admitted when it comes from this epoch and a generation
        not older than this one; anything else (another epoch, an older generation, a malformed
        tag) is skipped.
        """
        if tag is None or tag == self.tag or self.tag is None:
            return True
        if tag.__class__ is not str:
            return False
        epoch, _, generation = str(tag).rpartition(":")
        if epoch != self.epoch or not (generation.isascii() and generation.isdigit()):
            return False
        return int(generation) >= self.generation
