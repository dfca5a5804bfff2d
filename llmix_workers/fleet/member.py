"""FleetMember: one worker process's seat in the fleet, the Redis-backed :class:`Invalidator`.

Redis holds the truth: the fleet state's epoch, a generation every clear moves, and an "L2
blocked" flag. The member checks them from a background thread every half ``sync_interval_s``,
on reconnect, on a clear message, and inline on the cache's lookup path when the last check is
older than ``sync_interval_s``. Each successful check grants a **lease**: the process serves
what it caches only while its last confirmed check *started* less than ``lease_s`` ago
(monotonic clock). A process that cannot reach Redis therefore stops serving from memory within
``lease_s`` and answers from the provider until a check succeeds again.

Each check also writes the member's key, ``member:<node|pid>``, with the stamp it serves under
and a TTL of ``member_ttl_s`` that Redis counts down. A clear waits for every member until its
key shows the new generation or is gone; because ``member_ttl_s`` exceeds ``lease_s`` with a
margin for clock rate drift, a gone key means the lease has certainly run out, on Redis' clock,
whatever the hosts' wall clocks say. A moved stamp drops the attached cache's L1, and the
member checks once more at once to publish the stamp it now holds. Pub/sub is the fast path: a
clear message triggers a check and is answered on the clear's reply list with the L1 entries
dropped. Reach: every process that holds an L1 runs one.

With ``counts`` (the process's metrics), each sync also takes up to
:data:`TAKEN_PER_SYNC` fleet clear results and producer answers from the fleet's lists and
hands them over to be counted: every item is counted by one process of the fleet.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import orjson
import redis

from llmix_workers.cache.backend import L1Owner
from llmix_workers.cache.stamp import Stamp
from llmix_workers.fleet.answers import FleetCounts, hand_over
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.topology.clients import REDIS_ERRORS
from llmix_workers.topology.outage import Outage

logger = logging.getLogger(__name__)
_FAILURES = (*REDIS_ERRORS, ValueError)
CHECK_SCRIPT = files("llmix_workers.fleet").joinpath("check.lua").read_text(encoding="utf-8")
REPLY_TTL_S = 120
#: Items of each counted list (clear results, producer answers) one sync takes at most.
TAKEN_PER_SYNC = 100
#: What a process says of itself in its stats reply (pool, API keys...): cheap, never raising.
Describe = Callable[[], dict[str, Any]]


class FleetMember:
    """Keeps the attached cache in step with the fleet state. Scope: this process; thread-safe.

    ``describe`` adds what the process knows of itself to its stats reply; ``counts`` is told
    the fleet clear results and producer answers this process takes at its syncs (``None``:
    it takes none, and leaves them to a process with metrics). ``outage`` is shared with the
    other parts on the same Redis: a check that timed out opens it, and while it lasts no
    check is made inline on a job's path (the background thread goes on checking).
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: FleetKeys,
        *,
        node: str,
        sync_interval_s: float,
        lease_s: float,
        member_ttl_s: float,
        describe: Describe | None = None,
        counts: FleetCounts | None = None,
        outage: Outage | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keys = keys
        self.node = node
        self.pid = os.getpid()
        self.member = f"{node}|{self.pid}"
        self.stamp: Stamp | None = None
        self.blocked = False
        self._cache: L1Owner | None = None
        self._dropped_at: tuple[int | None, int] = (None, 0)  # (generation, L1 entries dropped)
        self._client = client
        self._check = client.register_script(CHECK_SCRIPT)
        self._interval_s = sync_interval_s
        self._lease_s = lease_s
        self._ttl_ms = max(1, int(member_ttl_s * 1000))
        self._monotonic = monotonic
        self._check_at = -math.inf  # when the next inline check is due
        self._lease_until = -math.inf
        self._lease_lost = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._describe = describe
        self._counts = counts
        self._outage = outage if outage is not None else Outage(sync_interval_s, monotonic)

    # -- Invalidator ----------------------------------------------------------------------------

    def attach(self, cache: L1Owner) -> None:
        self._cache = cache

    def current(self) -> Stamp | None:
        """The stamp to serve under, or ``None`` once the lease has run out. When the last check
        is older than ``sync_interval_s``, check inline first, unless another thread is checking
        right now, or the Redis is in a timeout's cool-off (:class:`Outage`). A failed check waits
        a whole interval before the next inline try, so a hung Redis costs a job one timeout at
        most, and only the first job to meet it."""
        now = self._monotonic()
        if now >= self._check_at and not self._outage.quiet() and self._lock.acquire(False):
            try:
                self._sync_locked()
            except _FAILURES as exc:
                self._check_at = self._monotonic() + self._interval_s
                logger.debug("fleet check failed: %s", exc)
            finally:
                self._lock.release()
            now = self._monotonic()
        return self.stamp if now < self._lease_until else None

    def l2_blocked(self) -> bool:
        return self.blocked

    @property
    def generation(self) -> int | None:
        """The generation of the stamp held (served or not), for reports."""
        return self.stamp.generation if self.stamp is not None else None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FleetMember:
        """Sync once (best effort) and start the background thread."""
        self.sync_quietly()
        self._thread = threading.Thread(target=self._run, name="llmix-fleet", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and leave the fleet (best effort)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.zrem(self.keys.members, self.member)
            pipe.delete(self.keys.member(self.member))
            pipe.execute()
        except REDIS_ERRORS:
            pass

    def sync_quietly(self) -> bool:
        try:
            self.sync()
            return True
        except _FAILURES as exc:
            logger.debug("fleet sync failed: %s", exc)
            return False

    def sync(self) -> int:
        """Check the fleet state and apply it; return the L1 entries dropped (0 if it held)."""
        with self._lock:  # check and apply together, so an older read never lands last
            return self._sync_locked()

    def _sync_locked(self) -> int:
        started = self._monotonic()
        try:
            epoch, generation, blocked = self._check_once(self.stamp)
            stamp = Stamp(epoch, generation)
            dropped = 0
            if stamp != self.stamp:
                dropped = self._adopt(stamp)
                self._check_once(stamp)  # publish the stamp now served: a clear waits for it
        except (redis.TimeoutError, TimeoutError):
            self._outage.timed_out()
            raise
        self._outage.answered()
        self.blocked = blocked
        if self._lease_lost:
            self._lease_lost = False
            logger.warning("fleet lease regained: serving from the caches again")
        self._lease_until = started + self._lease_s
        self._check_at = started + self._interval_s
        return dropped

    def _check_once(self, held: Stamp | None) -> tuple[str, int, bool]:
        keys = self.keys
        counts = self._counts
        epoch, generation, blocked, taken, answers = self._check(
            keys=[keys.epoch, keys.epoch_born, keys.generation, keys.blocked, keys.members,
                  keys.member(self.member), keys.clear_results, keys.producer_answers],
            args=[self.member, self._published(held), self._ttl_ms, uuid.uuid4().hex[:16],
                  held.epoch if held else "", held.generation if held else -1,
                  TAKEN_PER_SYNC if counts is not None else 0],
        )  # fmt: skip
        if counts is not None:
            hand_over(counts, taken or (), answers or ())
        return _text(epoch), int(generation), bool(int(blocked))

    def _note_lease(self) -> None:
        """Say once when the lease runs out while checks fail (from the fleet thread)."""
        if not self._lease_lost and self.stamp is not None:
            if self._monotonic() >= self._lease_until:
                self._lease_lost = True
                logger.warning(
                    "fleet lease lost: the fleet's Redis has not answered for %.1f s; every "
                    "lookup is a miss until a check succeeds",
                    self._lease_s,
                )

    def _published(self, held: Stamp | None) -> str:
        """What the membership key says: the tag served under and the L1 entries dropped when
        this process adopted it (``"<epoch>:<generation> <dropped>"``), or ``""``."""
        if held is None or held.tag is None:
            return ""
        dropped = self._dropped_at[1] if self._dropped_at[0] == held.generation else 0
        return f"{held.tag} {dropped}"

    def _adopt(self, stamp: Stamp) -> int:
        """Serve under ``stamp`` from now on and drop L1; the caller holds the lock."""
        previous, self.stamp = self.stamp, stamp
        dropped = self._cache.clear_l1() if self._cache is not None else 0
        if previous is not None or dropped:
            logger.info("fleet stamp %s -> %s: dropped %d L1 entries",
                        previous.tag if previous else None, stamp.tag, dropped)  # fmt: skip
        self._dropped_at = (stamp.generation, dropped)
        return dropped

    def _run(self) -> None:
        pubsub: Any = None
        next_sync = 0.0
        while not self._stop.is_set():
            try:
                if pubsub is None:
                    pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call, unused-ignore]
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
                self._note_lease()
                _close(pubsub)
                pubsub = None
                self._stop.wait(min(self._interval_s, 1.0))
        _close(pubsub)

    def _handle(self, event: dict[str, Any]) -> None:
        kind, request_id = event.get("kind"), str(event.get("id", ""))
        if kind == "clear":
            with self._lock:
                self._sync_locked()
                held = self.generation
                dropped = self._dropped_at[1] if self._dropped_at[0] == held else 0
            self._reply(request_id, {"dropped": dropped, "generation": held})
        elif kind == "stats" and self._cache is not None:
            self._reply(request_id, {**self._cache.stats().to_wire(), **self._described()})

    def _described(self) -> dict[str, Any]:
        try:
            return self._describe() if self._describe is not None else {}
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


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _close(pubsub: Any) -> None:
    if pubsub is not None:
        try:
            pubsub.close()
        except REDIS_ERRORS:
            pass
