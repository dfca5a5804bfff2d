"""What a fleet-wide clear did (:class:`ClearReport`) and the answers to one broadcast."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Replies:
    """Answers to one broadcast: by process, and the expected processes that stayed silent."""

    answers: list[dict[str, Any]]
    silent: list[str]
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class ClearReport:
    """What a fleet-wide clear did. ``complete`` is the only state in which to exit 0.

    ``acks`` are the processes that serve under the new generation (with the L1 entries each
    dropped when it answered the clear's message); ``expired`` the members whose lease had
    certainly run out (their membership key was gone); ``silent`` the members that did neither
    before the timeout. ``unproven`` says why a clear whose parts all worked still cannot be
    called complete (replicas that did not acknowledge it, a failover or restart of the fleet's
    Redis during it, fleet state too young to rule out processes of a lost one).
    """

    generation: int | None
    l2_deleted: int
    l2_error: str | None
    acks: list[dict[str, Any]] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)
    l2_s: float = 0.0
    ack_s: float = 0.0
    expired: list[str] = field(default_factory=list)
    unproven: str | None = None

    @property
    def complete(self) -> bool:
        return self.l2_error is None and not self.silent and self.unproven is None

    @property
    def result(self) -> str:
        """``ok`` (complete), ``failed`` (the L2 part or the fleet state failed) or
        ``incomplete`` (some process did not acknowledge, or completion is unproven): the
        ``result`` metric label."""
        return "ok" if self.complete else "failed" if self.l2_error else "incomplete"

    def nodes(self) -> list[dict[str, Any]]:
        """Acknowledgements grouped by node: processes and L1 entries dropped."""
        by_node: dict[str, dict[str, Any]] = {}
        for ack in self.acks:
            row = by_node.setdefault(
                ack["node"], {"node": ack["node"], "processes": 0, "dropped": 0}
            )
            row["processes"] += 1
            row["dropped"] += int(ack.get("dropped", 0))
        return sorted(by_node.values(), key=lambda row: row["node"])

    def as_json(self) -> dict[str, Any]:
        return {
            "complete": self.complete, "generation": self.generation,
            "l2Deleted": self.l2_deleted, "l2Error": self.l2_error, "nodes": self.nodes(),
            "acks": self.acks, "silent": self.silent, "expired": self.expired,
            "unproven": self.unproven, "l2Seconds": round(self.l2_s, 4),
            "ackSeconds": round(self.ack_s, 4),
        }  # fmt: skip
