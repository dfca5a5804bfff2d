"""The clearing side: fleet-wide clear with acknowledgements, and per-process stats.

A clear follows the one clear rule (:func:`~llmix_workers.cache.invalidation.clear_entries`) with
the fleet's flag as the block: set the "L2 blocked" flag and move the generation together,
delete every L2 entry under the prefix, clear the flag when that succeeded. Then it publishes
the clear and waits until every member of the fleet either serves under the new generation (its
membership key says so) or has certainly lost its lease (its key is gone: Redis counted its TTL
down). A member that does neither before the timeout is *silent*, and the clear incomplete.
Last, the clear proves its writes survive a failover (WAIT for the connected replicas) and that
the fleet's Redis was the same server throughout; when the fleet state was created less than a
membership TTL ago (it was lost), it first waits out that TTL on Redis' clock, since processes
of the lost state may hold leases nobody can see.

So once a clear reports complete at time T, no lookup that starts after T, on any process,
returns an entry from before the clear started: every process with a lease serves under the new
generation, and readers skip entries stamped with an older one.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import redis

from llmix_workers.cache.backend import L2Backend
from llmix_workers.cache.invalidation import clear_entries
from llmix_workers.cache.stamp import Stamp
from llmix_workers.errors import ClearFailed, L2Unavailable
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.fleet.replication import confirm_replicated, node_holding, server_id
from llmix_workers.fleet.report import ClearReport, Replies
from llmix_workers.fleet.roster import FleetState, Roster
from llmix_workers.settings import CacheSettings, FleetSettings
from llmix_workers.topology.clients import REDIS_ERRORS

__all__ = ["ClearReport", "FleetControl", "Replies"]

#: Clear results waiting for a worker to count them: the newest kept, for at most a day.
CLEAR_RESULTS_KEPT = 1000
CLEAR_RESULTS_TTL_S = 86_400
#: How often a clear re-reads the members' stamps while waiting for them.
POLL_S = 0.05


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
        self.roster = Roster(client, self.keys, member_ttl_s=fleet.member_ttl_s)

    def live_members(self) -> list[str]:
        """``node|pid`` of every process whose membership key is alive."""
        return self.roster.live()

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
            node = node_holding(self.client, self.keys.generation)
            server = server_id(node)
            state = self.roster.state(uuid.uuid4().hex[:16])
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
        target = Stamp(state.epoch, generation[0])
        event = {"kind": "clear", "id": request_id, "generation": target.generation,
                 "epoch": target.epoch, "blocked": error is not None}  # fmt: skip
        deadline = time.monotonic() + timeout_s
        try:
            young = self._outlive_lost_state(state, target, deadline)
            acks, expired, silent, ack_s = self._await_members(request_id, event, target, deadline)
            unproven = young or self._prove(node, server, target, deadline)
        except REDIS_ERRORS as exc:
            failure = error or f"broadcast failed: {exc}"
            return ClearReport(target.generation, deleted, failure, l2_s=l2_s,
                               unproven="the fleet's Redis stopped answering")  # fmt: skip
        return ClearReport(target.generation, deleted, error, acks, silent, l2_s, ack_s, expired,
                           unproven)  # fmt: skip

    def _await_members(
        self, request_id: str, event: dict[str, Any], target: Stamp, deadline: float
    ) -> tuple[list[dict[str, Any]], list[str], list[str], float]:
        """Publish the clear; wait until every member serves under ``target`` or has lost its
        lease. Returns (acks, expired, silent, seconds waited)."""
        started = time.perf_counter()
        reply_key = self.keys.replies(request_id)
        self.client.publish(self.keys.events, orjson.dumps(event))
        answers: dict[str, dict[str, Any]] = {}
        while True:
            held = self.roster.held()
            pending = {m for m, h in held.items() if h is not None and not target.admits(h[0])}
            left = deadline - time.monotonic()
            if not pending or left <= 0:
                break
            popped = self.client.blpop([reply_key], timeout=max(0.01, min(left, POLL_S)))
            if popped is not None:
                _take(answers, popped[1])
        elapsed = time.perf_counter() - started
        for raw in self.client.lrange(reply_key, 0, -1):  # late or unexpected answers
            _take(answers, raw)
        self.client.expire(reply_key, 60)  # answers still on their way land, then go
        for member, h in held.items():  # serves the new generation; its key says what it dropped
            if h is not None and member not in answers and target.admits(h[0]):
                node, _, pid = member.rpartition("|")
                answers[member] = {"node": node, "pid": int(pid) if pid.isdigit() else pid,
                                   "dropped": h[1], "generation": target.generation}  # fmt: skip
        expired = sorted(m for m, h in held.items() if h is None and m not in answers)
        acks = [answers[m] for m in sorted(answers) if m not in pending]
        return acks, expired, sorted(pending), elapsed

    def _outlive_lost_state(self, state: FleetState, target: Stamp, deadline: float) -> str | None:
        """When the fleet state is younger than a membership TTL (it was lost, or is new), wait
        until it is not, on Redis' clock: processes of a lost state may hold leases that no key
        shows any more. ``None`` once it is old enough, else why the clear is unproven."""
        young_ms = state.young_for_ms(self.fleet.member_ttl_s)
        while young_ms > 0 and time.monotonic() < deadline:
            time.sleep(min(young_ms / 1000, POLL_S * 4))
            now = self.roster.state(uuid.uuid4().hex[:16])
            if now.epoch != target.epoch:
                return "the fleet state was lost again during the clear"
            young_ms = now.young_for_ms(self.fleet.member_ttl_s)
        if young_ms > 0:
            return "fleet state younger than a membership TTL: processes of a lost state may serve"
        return None

    def _prove(self, node: redis.Redis, server: str, target: Stamp, deadline: float) -> str | None:
        """Why the clear cannot be called complete though its parts worked, or ``None``."""
        if server_id(node) != server:
            return "the fleet's Redis restarted or failed over during the clear"
        pipe = self.client.pipeline(transaction=True)
        pipe.get(self.keys.epoch)
        pipe.get(self.keys.generation)
        epoch, generation = pipe.execute()
        if _text(epoch) != target.epoch or int(generation or 0) < target.generation:
            return "the fleet state lost the clear (restart or failover)"
        left = max(0.5, deadline - time.monotonic())
        return confirm_replicated(node, self.keys.clear_marker, left)

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
            waiting.discard(_take(answers, popped[1]))
        elapsed = time.perf_counter() - started
        for raw in self.client.lrange(reply_key, 0, -1):  # late or unexpected answers
            _take(answers, raw)
        self.client.delete(reply_key)
        ordered = [answers[m] for m in sorted(answers)]
        return Replies(ordered, sorted(waiting - set(answers)), elapsed)


def _take(answers: dict[str, dict[str, Any]], raw: bytes | str) -> str:
    """Record one process's answer (the first one wins); return its ``node|pid``."""
    answer = orjson.loads(raw)
    member = f"{answer['node']}|{answer['pid']}"
    answers.setdefault(member, answer)
    return member


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
