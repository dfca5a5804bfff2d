"""FleetMember: one worker process's seat in the fleet, the Redis-backed :class:`Invalidator`.

Redis holds the truth: a generation number and an "L2 blocked" flag. The member compares its
generation with Redis from a background thread every half ``sync_interval_s``, on reconnect, and
inline (:meth:`generation`, on the cache's lookup path) when the last check is older than
``sync_interval_s`` (after a SIGSTOP, say); a moved generation drops the attached cache's L1, and
while the flag is set nothing is read from L2. Pub/sub is the fast path: a clear message drops L1
at once and is answered on the clear's reply list, which is how the clearing side counts
acknowledgements. The member also heartbeats into the members set, so a clear knows whom to wait
for. Reach: every process that holds an L1 runs one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import redis

from llmix_workers.cache.backend import L1Owner
from llmix_workers.fleet.client import REDIS_ERRORS
from llmix_workers.fleet.keys import FleetKeys

logger = logging.getLogger(__name__)
_FAILURES = (*REDIS_ERRORS, ValueError)
REPLY_TTL_S = 120
#: Fleet clear results one sync takes at most (more wait for the next sync).
CLEAR_RESULTS_PER_SYNC = 100


class FleetMember:
    """Keeps the attached cache in step with the fleet state. Scope: this process; thread-safe."""

    def __init__(
        self,
        client: redis.Redis,
        keys: FleetKeys,
        *,
        node: str,
        sync_interval_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.node = node
        self.pid = os.getpid()
        self.member = f"{node}|{self.pid}"
        self.current: int | None = None
        self.epoch: bytes | None = None
        self.blocked = False
        self._cache: L1Owner | None = None
        self._dropped_at: tuple[int | None, int] = (None, 0)  # (generation, L1 entries dropped)
        self._client = client
        self._interval_s = sync_interval_s
        self._monotonic = monotonic
        self._wall = wall_clock
        self._fresh_until = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Adds what the process knows of itself to its stats reply (pool, keys...); set by
        #: the worker runtime. Must be cheap and must not raise.
        self.describe: Callable[[], dict[str, Any]] | None = None
        #: Told each fleet clear's result (``ok``, ``failed``, ``incomplete``) this process took
        #: from the fleet's list at a sync: each result is taken by one process of the fleet.
        #: Set by the worker runtime when metrics are on; ``None`` takes nothing.
        self.on_clear_result: Callable[[str], None] | None = None

    # -- Invalidator ----------------------------------------------------------------------------

    def attach(self, cache: L1Owner) -> None:
        self._cache = cache

    def generation(self) -> int:
        """Re-check inline when the last check is stale, unless another thread is checking
        right now (then serve: a clear cannot complete without this process while its Redis is
        unreachable). A failed check waits a whole interval before the next inline try, so a
        hung Redis costs each burst of jobs one timeout per interval, not one per job."""
        if self._monotonic() >= self._fresh_until and self._lock.acquire(blocking=False):
            try:
                self._sync_locked()
            except _FAILURES as exc:
                self._fresh_until = self._monotonic() + self._interval_s
                logger.debug("fleet sync failed: %s", exc)
            finally:
                self._lock.release()
        return self.current or 0

    def l2_blocked(self) -> bool:
        return self.blocked

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FleetMember:
        """Sync once (best effort) and start the background thread."""
        self.sync_quietly()
        self._thread = threading.Thread(target=self._run, name="llmix-fleet", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and leave the members set (best effort)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self._client.zrem(self.keys.members, self.member)
        except REDIS_ERRORS:
            pass

    def sync_quietly(self) -> bool:
        try:
            self.sync()
            return True
        except _FAILURES as exc:
            logger.debug("fleet sync failed: %s", exc)
            return False

    def sync(self) -> None:
        """Heartbeat, read epoch, generation and flag, apply them (a fresh Redis gets an epoch)."""
        with self._lock:  # read and apply together, so an older read never lands last
            self._sync_locked()

    def _sync_locked(self) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.zadd(self.keys.members, {self.member: self._wall()})
        pipe.setnx(self.keys.epoch, uuid.uuid4().hex)
        pipe.get(self.keys.epoch)
        pipe.get(self.keys.generation)
        pipe.get(self.keys.blocked)
        counting = self.on_clear_result
        if counting is not None:
            pipe.lpop(self.keys.clear_results, CLEAR_RESULTS_PER_SYNC)
        _, _, epoch, generation, blocked, *taken = pipe.execute()
        self._apply(epoch, int(generation or 0), blocked is not None)
        if counting is not None and taken and taken[0]:
            for result in taken[0]:
                counting(result.decode() if isinstance(result, bytes) else str(result))

    def _apply(
        self, epoch: bytes | None, generation: int, blocked: bool, *, repeat: bool = False
    ) -> int:
        """Adopt ``(epoch, generation)`` (dropping L1 when either moved) and the flag; the caller
        holds the lock. ``repeat``: the drop repeats one already made for this clear."""
        dropped = 0
        if generation != self.current or epoch != self.epoch:
            if self._cache is not None:
                dropped = self._cache.clear_l1(repeat=repeat)
            if self.current is not None or dropped:
                logger.info("fleet generation %s -> %d: dropped %d L1 entries",
                            self.current, generation, dropped)  # fmt: skip
            self.current = generation
            self.epoch = epoch
            self._dropped_at = (generation, dropped)
        self.blocked = blocked
        self._fresh_until = self._monotonic() + self._interval_s
        return dropped

    def _run(self) -> None:
        pubsub: Any = None
        next_sync = 0.0
        while not self._stop.is_set():
            try:
                if pubsub is None:
                    pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                    pubsub.subscribe(self.keys.events)
                    next_sync = 0.0  # (re)connected: catch up with anything missed
                if self._monotonic() >= next_sync:
                    self.sync()
                    next_sync = self._monotonic() + self._interval_s / 2
                wait = min(0.25, max(0.01, next_sync - self._monotonic()))
                message = pubsub.get_message(timeout=wait)
                if message is not None and message.get("type") == "message":
                    self._handle(orjson.loads(message["data"]))
            except _FAILURES as exc:
                logger.debug("fleet listener: %s; reconnecting", exc)
                _close(pubsub)
                pubsub = None
                self._stop.wait(min(self._interval_s, 1.0))
        _close(pubsub)

    def _handle(self, event: dict[str, Any]) -> None:
        kind, request_id = event.get("kind"), str(event.get("id", ""))
        if kind == "clear":
            generation = int(event["generation"])
            with self._lock:
                already = self._dropped_at[1] if self._dropped_at[0] == generation else 0
                epoch = str(event.get("epoch", "")).encode() or self.epoch
                # a sync adopted this clear first: drop again (an L2 read that raced that drop
                # may have put an entry back), but it is the same clear, not a second one
                repeat = self._dropped_at[0] == generation == self.current and epoch == self.epoch
                self.current = None  # force the drop even if a sync adopted it first
                dropped = self._apply(epoch, generation, bool(event.get("blocked")), repeat=repeat)
                dropped += already
                self._dropped_at = (generation, dropped)
            self._reply(request_id, {"dropped": dropped, "generation": generation})
        elif kind == "stats" and self._cache is not None:
            self._reply(request_id, {**self._cache.stats().to_wire(), **self._described()})

    def _described(self) -> dict[str, Any]:
        try:
            return self.describe() if self.describe is not None else {}
        except Exception as exc:
            return {"describeError": type(exc).__name__}

    def _reply(self, request_id: str, body: dict[str, Any]) -> None:
        if not request_id:
            return
        body = {"node": self.node, "pid": self.pid, **body}
        pipe = self._client.pipeline(transaction=False)
        pipe.rpush(self.keys.replies(request_id), orjson.dumps(body))
        pipe.expire(self.keys.replies(request_id), REPLY_TTL_S)
        pipe.execute()


def _close(pubsub: Any) -> None:
    if pubsub is not None:
        try:
            pubsub.close()
        except REDIS_ERRORS:
            pass
