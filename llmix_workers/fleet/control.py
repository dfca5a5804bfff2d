"""The clearing side: fleet-wide clear with acknowledgements, and per-process stats.

A clear sets the "L2 blocked" flag, bumps the generation, deletes every L2 key under the prefix
(SCAN + UNLINK in batches), clears the flag when that succeeded, then publishes the clear on the
events channel and collects one acknowledgement per live process (the members set says who is
live). It returns as soon as every expected process has answered, or at the timeout. Processes
that missed the message still drop their L1 at their next generation check.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from llmix_workers.cache.backends.redis import RedisL2
from llmix_workers.errors import L2Unavailable
from llmix_workers.fleet.keys import FleetKeys, fleet_client
from llmix_workers.settings import Settings

_FAILURES = (redis.RedisError, OSError)


@dataclass(frozen=True, slots=True)
class Replies:
    """Answers to one broadcast: by process, and the expected processes that stayed silent."""

    answers: list[dict[str, Any]]
    silent: list[str]
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class ClearReport:
    """What a fleet-wide clear did. ``complete`` is the only state in which to exit 0."""

    generation: int | None
    l2_deleted: int
    l2_error: str | None
    acks: list[dict[str, Any]] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)
    l2_s: float = 0.0
    ack_s: float = 0.0

    @property
    def complete(self) -> bool:
        return self.l2_error is None and not self.silent

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
            "acks": self.acks, "silent": self.silent, "l2Seconds": round(self.l2_s, 4),
            "ackSeconds": round(self.ack_s, 4),
        }  # fmt: skip


class FleetControl:
    """Clears and stats for the fleet sharing ``settings``' cache prefix."""

    def __init__(self, settings: Settings, *, client: redis.Redis | None = None) -> None:
        self.settings = settings
        self.keys = FleetKeys.for_prefix(settings.cache.key_prefix)
        self.client = client or fleet_client(settings, socket_timeout_s=5.0)

    def live_members(self) -> list[str]:
        """``node|pid`` of every process whose heartbeat is recent enough."""
        since = time.time() - self.settings.fleet.heartbeat_ttl_s
        self.client.zremrangebyscore(self.keys.members, "-inf", f"({since}")
        raw = self.client.zrangebyscore(self.keys.members, since, "+inf")
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in raw)

    def clear(self, *, timeout_s: float | None = None) -> ClearReport:
        """Clear L2 and every L1 of the fleet; see the module docstring for the order."""
        timeout_s = self.settings.fleet.clear_timeout_s if timeout_s is None else timeout_s
        request_id = uuid.uuid4().hex
        try:
            expected = self.live_members()
            self.client.set(self.keys.blocked, request_id)
            generation = int(self.client.incr(self.keys.generation))
        except _FAILURES as exc:
            return ClearReport(None, 0, f"fleet state unreachable, nothing cleared: {exc}")
        deleted, error, l2_s = self._delete_l2()
        try:
            if error is None:
                self.client.delete(self.keys.blocked)
            event = {"kind": "clear", "id": request_id, "generation": generation,
                     "blocked": error is not None}  # fmt: skip
            replies = self._broadcast(request_id, event, expected, timeout_s)
        except _FAILURES as exc:
            return ClearReport(generation, deleted, error or f"broadcast failed: {exc}",
                               silent=expected, l2_s=l2_s)  # fmt: skip
        return ClearReport(generation, deleted, error, replies.answers, replies.silent, l2_s,
                           replies.elapsed_s)  # fmt: skip

    def stats(self, *, timeout_s: float | None = None) -> tuple[Replies, int | None]:
        """Every live process's cache stats, and the fleet-wide L2 key count (None if unknown)."""
        timeout_s = self.settings.fleet.clear_timeout_s if timeout_s is None else timeout_s
        request_id = uuid.uuid4().hex
        replies = self._broadcast(
            request_id, {"kind": "stats", "id": request_id}, self.live_members(), timeout_s
        )
        try:
            l2 = RedisL2.from_settings(self.settings.redis)
            try:
                count: int | None = l2.count_prefix(self.settings.cache.key_prefix)
            finally:
                l2.close()
        except L2Unavailable:
            count = None
        return replies, count

    def _delete_l2(self) -> tuple[int, str | None, float]:
        started = time.perf_counter()
        try:
            l2 = RedisL2.from_settings(self.settings.redis)
        except L2Unavailable as exc:
            return 0, str(exc), 0.0
        try:
            deleted = l2.delete_prefix(
                self.settings.cache.key_prefix, self.settings.cache.clear_batch_size
            )
            return deleted, None, time.perf_counter() - started
        except L2Unavailable as exc:
            return 0, str(exc), time.perf_counter() - started
        finally:
            l2.close()

    def _broadcast(
        self, request_id: str, event: dict[str, Any], expected: list[str], timeout_s: float
    ) -> Replies:
        started = time.perf_counter()
        reply_key = self.keys.replies(request_id)
        self.client.publish(self.keys.events, orjson.dumps(event))
        answers: dict[str, dict[str, Any]] = {}
        waiting = set(expected)
        deadline = time.monotonic() + timeout_s
        while waiting and (left := deadline - time.monotonic()) > 0:
            popped = self.client.blpop([reply_key], timeout=max(0.01, min(left, 1.0)))
            if popped is None:
                continue
            answer = orjson.loads(popped[1])
            member = f"{answer['node']}|{answer['pid']}"
            answers[member] = answer
            waiting.discard(member)
        elapsed = time.perf_counter() - started
        for raw in self.client.lrange(reply_key, 0, -1):  # late or unexpected answers
            answer = orjson.loads(raw)
            answers.setdefault(f"{answer['node']}|{answer['pid']}", answer)
        self.client.delete(reply_key)
        ordered = [answers[m] for m in sorted(answers)]
        return Replies(ordered, sorted(waiting - set(answers)), elapsed)
