"""The clearing side: fleet-wide clear with acknowledgements, and per-process stats.

A clear follows the one clear rule (:func:`~llmix_workers.cache.invalidation.clear_entries`) with
the fleet's flag as the block: set the "L2 blocked" flag and bump the generation together, delete
every L2 entry under the prefix, clear the flag when that succeeded. Then it publishes the clear
on the events channel and collects one acknowledgement per live process (the members set says who
is live). It returns as soon as every expected process has answered, or at the timeout. Processes
that missed the message still drop their L1 at their next generation check.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from llmix_workers.cache.backend import L2Backend
from llmix_workers.cache.invalidation import clear_entries
from llmix_workers.errors import ClearFailed, L2Unavailable
from llmix_workers.fleet.client import REDIS_ERRORS
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.settings import CacheSettings, FleetSettings

#: Clear results waiting for a worker to count them: the newest kept, for at most a day.
CLEAR_RESULTS_KEPT = 1000
CLEAR_RESULTS_TTL_S = 86_400


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

    @property
    def result(self) -> str:
        """``ok`` (complete), ``failed`` (the L2 part or the fleet state failed) or
        ``incomplete`` (some process did not acknowledge): the ``result`` metric label."""
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
            "acks": self.acks, "silent": self.silent, "l2Seconds": round(self.l2_s, 4),
            "ackSeconds": round(self.ack_s, 4),
        }  # fmt: skip


class FleetControl:
    """Clears and stats for the fleet sharing ``cache.key_prefix``. Reach: every process."""

    def __init__(
        self,
        client: redis.Redis,
        l2: L2Backend,
        *,
        cache: CacheSettings,
        fleet: FleetSettings,
    ) -> None:
        self.client = client
        self.l2 = l2
        self.cache = cache
        self.fleet = fleet
        self.keys = FleetKeys.for_prefix(cache.key_prefix)

    def live_members(self) -> list[str]:
        """``node|pid`` of every process whose heartbeat is recent enough."""
        since = time.time() - self.fleet.heartbeat_ttl_s
        self.client.zremrangebyscore(self.keys.members, "-inf", f"({since}")
        raw = self.client.zrangebyscore(self.keys.members, since, "+inf")
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in raw)

    def clear(self, *, timeout_s: float | None = None) -> ClearReport:
        """Clear L2 and every L1 of the fleet; see the module docstring for the order.

        Whoever runs it (the CLI, a task, a broadcast), the result is then listed for the
        fleet's metrics: one worker process takes it and counts it in
        ``llmix_cache_clears_total{scope="fleet"}`` (best effort; a clear that could not reach
        the fleet's Redis at all is not listed).
        """
        report = self._clear(timeout_s)
        if report.generation is not None:
            self._list_result(report.result)
        return report

    def _list_result(self, result: str) -> None:
        key = self.keys.clear_results
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.rpush(key, result)
            pipe.ltrim(key, -CLEAR_RESULTS_KEPT, -1)
            pipe.expire(key, CLEAR_RESULTS_TTL_S)
            pipe.execute()
        except REDIS_ERRORS:
            pass

    def _clear(self, timeout_s: float | None) -> ClearReport:
        timeout_s = self.fleet.clear_timeout_s if timeout_s is None else timeout_s
        request_id = uuid.uuid4().hex
        generation: list[int] = []

        def block(on: bool) -> None:
            if on:
                pipe = self.client.pipeline(transaction=True)
                pipe.set(self.keys.blocked, request_id)
                pipe.incr(self.keys.generation)
                generation.append(int(pipe.execute()[1]))
            else:
                self.client.delete(self.keys.blocked)

        started = time.perf_counter()
        try:
            epoch = self._epoch()
            expected = self.live_members()
            deleted = clear_entries(self.l2, self.cache.key_prefix, self.cache.clear_batch_size,
                                    block)  # fmt: skip
            error = None
        except REDIS_ERRORS as exc:
            if not generation:
                return ClearReport(None, 0, f"fleet state unreachable, nothing cleared: {exc}")
            deleted, error = 0, f"fleet state unreachable after the generation moved: {exc}"
        except ClearFailed as exc:
            deleted, error = 0, str(exc)
        l2_s = time.perf_counter() - started
        event = {"kind": "clear", "id": request_id, "generation": generation[0], "epoch": epoch,
                 "blocked": error is not None}  # fmt: skip
        try:
            replies = self._broadcast(request_id, event, expected, timeout_s)
            late = set(self.live_members()) - {f"{a['node']}|{a['pid']}" for a in replies.answers}
            replies = Replies(
                replies.answers, sorted(set(replies.silent) | late), replies.elapsed_s
            )
        except REDIS_ERRORS as exc:
            return ClearReport(generation[0], deleted, error or f"broadcast failed: {exc}",
                               silent=expected, l2_s=l2_s)  # fmt: skip
        return ClearReport(generation[0], deleted, error, replies.answers, replies.silent, l2_s,
                           replies.elapsed_s)  # fmt: skip

    def _epoch(self) -> str:
        """The fleet state's epoch; when Redis had none (it lost its data, or is new), set one
        and give live workers one sync interval to re-register before counting them."""
        candidate = uuid.uuid4().hex
        if self.client.setnx(self.keys.epoch, candidate):
            time.sleep(self.fleet.sync_interval_s)
            return candidate
        current = self.client.get(self.keys.epoch)
        return current.decode() if isinstance(current, bytes) else str(current)

    def stats(self, *, timeout_s: float | None = None) -> tuple[Replies, int | None]:
        """Every live process's cache stats, and the fleet-wide L2 key count (None if unknown)."""
        timeout_s = self.fleet.clear_timeout_s if timeout_s is None else timeout_s
        request_id = uuid.uuid4().hex
        replies = self._broadcast(
            request_id, {"kind": "stats", "id": request_id}, self.live_members(), timeout_s
        )
        try:
            count: int | None = self.l2.count_entries(self.cache.key_prefix)
        except L2Unavailable:
            count = None
        return replies, count

    def close(self) -> None:
        self.l2.close()
        self.client.close()

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
