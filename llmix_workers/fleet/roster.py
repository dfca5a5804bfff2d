"""Roster: who is in the fleet and which stamp each process serves under, on Redis' clock.

Every member's check writes ``member:<node|pid>`` with the stamp it holds and a TTL that Redis
counts down, and scores it in the members set with Redis' time. So whether a process's lease
has certainly run out is Redis' judgement (its key is gone), never a comparison of two hosts'
wall clocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import redis

from llmix_workers.fleet.keys import FleetKeys

STATE_SCRIPT = files("llmix_workers.fleet").joinpath("state.lua").read_text(encoding="utf-8")
#: Members not heard of for this many membership TTLs leave the members set.
FORGET_AFTER_TTLS = 10


@dataclass(frozen=True, slots=True)
class FleetState:
    """The fleet state's epoch, when Redis created it (ms, ``None`` if unknown) and Redis' time."""

    epoch: str
    born_ms: int | None
    now_ms: int

    def young_for_ms(self, member_ttl_s: float) -> int:
        """How much longer (ms) a process may still serve under an epoch from before this one:
        positive while the state is younger than a membership TTL (it was lost, or is new)."""
        if self.born_ms is None:
            return 0
        return max(0, self.born_ms + int(member_ttl_s * 1000) - self.now_ms)


class Roster:
    """Reads membership and the fleet state. Thread-safe as its client is."""

    def __init__(self, client: redis.Redis, keys: FleetKeys, *, member_ttl_s: float) -> None:
        self.client = client
        self.keys = keys
        self.member_ttl_s = member_ttl_s
        self._state = client.register_script(STATE_SCRIPT)

    def state(self, candidate_epoch: str) -> FleetState:
        """The epoch (set to ``candidate_epoch`` when the state is new), its birth, Redis' time.

        Raises:
            redis.RedisError, OSError: the fleet's Redis did not answer.
        """
        forget_ms = int(self.member_ttl_s * 1000 * FORGET_AFTER_TTLS)
        keys = [self.keys.epoch, self.keys.epoch_born, self.keys.members]
        reply: list[Any] = self._state(keys=keys, args=[candidate_epoch, forget_ms])
        epoch, born, now = reply
        return FleetState(_text(epoch), int(born) if born else None, int(now))

    def stamps(self) -> dict[str, str | None]:
        """Every member of the set: the tag of the stamp it serves under (``""`` while it holds
        none), or ``None`` when its key is gone (its lease has certainly run out)."""
        return {m: None if held is None else held[0] for m, held in self.held().items()}

    def held(self) -> dict[str, tuple[str, int] | None]:
        """Every member of the set: the tag it serves under and the L1 entries it dropped when it
        adopted it, or ``None`` when its key is gone."""
        members = [_text(m) for m in self.client.zrange(self.keys.members, 0, -1)]
        if not members:
            return {}
        values = self.client.mget([self.keys.member(m) for m in members])
        return {m: None if v is None else _parse(_text(v))
                for m, v in zip(members, values, strict=True)}  # fmt: skip

    def live(self) -> list[str]:
        """``node|pid`` of every process whose membership key is alive."""
        return sorted(member for member, tag in self.stamps().items() if tag is not None)

    def ages_s(self, now_ms: int) -> dict[str, float]:
        """Seconds since each member's last check, by Redis' clock (``now_ms`` from
        :meth:`state`)."""
        raw: list[tuple[Any, float]] = self.client.zrange(self.keys.members, 0, -1, withscores=True)  # type: ignore[assignment]
        return {_text(m): max(0.0, (now_ms - float(score)) / 1000) for m, score in raw}


def _parse(value: str) -> tuple[str, int]:
    tag, _, dropped = value.partition(" ")
    return tag, int(dropped) if dropped.isdigit() else 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
