"""FleetKeys: every Redis name of the fleet state, under one ``llmix:fleet:{<key prefix>}:`` root.

The braces are a Redis Cluster hash tag: every fleet key of one fleet lives in one slot, so the
clear's transaction (flag + generation) and the member's pipelined sync stay on one node.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

#: Root of every fleet-coordination key in Redis (generation, blocked flag, members, locks).
FLEET_ROOT: Final = "llmix:fleet:"


@dataclass(frozen=True, slots=True)
class FleetKeys:
    """Names for one fleet: the workers sharing a cache key prefix.

    ``generation`` (int) moves on every clear; ``blocked`` is set while, or because, an L2
    clear did not finish; ``members`` is a sorted set of ``node|pid`` scored by the Redis time
    (ms) of each one's last check, and ``member:<node|pid>`` holds the stamp that process serves
    under, with a TTL Redis counts down (gone: its lease has run out); ``epoch_born`` is the
    Redis time (ms) the epoch was set;
    ``events`` is the pub/sub channel of clears and stats requests; ``replies:<id>`` lists the
    answers to one request; ``lock:<digest>`` is the single-flight lock of one cache key;
    ``control_round`` and ``control_result:<id>`` let the nodes reached by one Celery broadcast
    share one clear; ``clear_results`` lists the results of fleet clears not yet counted by a
    worker's metrics, and ``producer_answers`` the jobs producers answered from the cache (each
    item taken by one worker process); ``budget:<name>`` holds one fleet-wide budget's state.
    """

    root: str

    @classmethod
    def for_prefix(cls, key_prefix: str) -> FleetKeys:
        return cls(f"{FLEET_ROOT}{{{key_prefix}}}:")

    @property
    def generation(self) -> str:
        return self.root + "generation"

    @property
    def epoch(self) -> str:
        """A random token set once per life of the fleet state: a Redis that lost its data gets
        a new one, so a generation number after the loss never equals one from before."""
        return self.root + "epoch"

    @property
    def epoch_born(self) -> str:
        return self.root + "epoch_born"

    @property
    def blocked(self) -> str:
        return self.root + "l2_blocked"

    @property
    def members(self) -> str:
        return self.root + "members"

    def member(self, member: str) -> str:
        """The key holding the stamp of ``member`` (``node|pid``), alive while its lease is."""
        return f"{self.root}member:{member}"

    @property
    def clear_marker(self) -> str:
        """Written last by a clear, so that WAIT on its connection covers everything before."""
        return self.root + "clear_marker"

    @property
    def events(self) -> str:
        return self.root + "events"

    def replies(self, request_id: str) -> str:
        return f"{self.root}replies:{request_id}"

    @property
    def control_round(self) -> str:
        return self.root + "control_round"

    def control_result(self, round_id: str) -> str:
        return f"{self.root}control_result:{round_id}"

    @property
    def clear_results(self) -> str:
        return self.root + "clear_results"

    @property
    def producer_answers(self) -> str:
        return self.root + "producer_answers"

    def budget(self, name: str) -> str:
        """The state of fleet-wide budget ``name`` (``provider`` or ``provider/model``): in the
        fleet's slot, so one script reads it with the members set."""
        return f"{self.root}budget:{name}"

    def lock(self, cache_key: str) -> str:
        return self.root + "lock:" + hashlib.sha256(cache_key.encode()).hexdigest()[:32]
