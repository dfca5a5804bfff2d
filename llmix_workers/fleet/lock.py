"""FleetLock: one provider call per cache key across the fleet, while Redis is healthy.

The first worker to take the key's lock (``SET NX PX`` with a token of its own) calls the
provider and writes the entry; a keeper thread resets the TTL of every lock the process holds, in
one round trip, while the calls run, so a lock only expires when its holder is gone; a holder
releases only what it still owns (a script compares the token). On a standalone or Sentinel
Redis each command is one raw send and read on a connection borrowed from the fleet client's pool
(:class:`~llmix_workers.topology.thread_connections.ThreadConnections`, not kept per thread, so
the lock adds no connection per task thread), on a cluster through the cluster client. The others
poll L2 for the entry and return it as an L2 hit; when the lock disappears without an entry (the
holder died, failed, or got an uncacheable answer) one of them takes over. Waiting is bounded by
``wait_s``; any Redis error means "call the provider yourself": never a deadlock, never a failed
job because of the lock. A lock command that times out opens the Redis's
:class:`~llmix_workers.topology.outage.Outage` (shared with the other parts on that Redis), and
while it lasts the lock is not tried at all: a hung Redis costs a job one timeout at most.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Generic, Protocol, TypeVar

import redis
from redis.cluster import RedisCluster
from redis.exceptions import NoScriptError

from llmix_workers.cache.backend import MISS, Miss
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.topology.clients import REDIS_ERRORS
from llmix_workers.topology.outage import Outage
from llmix_workers.topology.thread_connections import ThreadConnections

T = TypeVar("T")
H = TypeVar("H")
logger = logging.getLogger(__name__)
_SCRIPTS = files("llmix_workers.fleet")
RELEASE = _SCRIPTS.joinpath("lock_release.lua").read_text(encoding="utf-8")
RENEW = _SCRIPTS.joinpath("lock_renew.lua").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class LockOutcome(Generic[T, H]):
    """What :meth:`FleetLock.run` did: the value, whether it came from another holder's call
    (``waited``), and whether this process took the lock over from a vanished holder."""

    value: T | H
    waited: bool
    took_over: bool


class KeyLock(Protocol[H]):
    """Single flight across processes, keyed by cache key (what CompletionService needs)."""

    def run(
        self, cache_key: str, call: Callable[[], T], lookup: Callable[[], H | Miss]
    ) -> LockOutcome[T, H]: ...


class FleetLock(Generic[H]):
    """Cross-process single flight keyed by cache key. Thread-safe; one per process."""

    def __init__(
        self,
        client: redis.Redis,
        keys: FleetKeys,
        *,
        ttl_s: float,
        wait_s: float,
        poll_s: float,
        outage: Outage | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._commands = _Commands(client)
        self._keys = keys
        self._ttl_s = ttl_s
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._outage = outage if outage is not None else Outage(ttl_s, monotonic)
        self._tokens = itertools.count()
        self._nonce = uuid.uuid4().hex[:12]
        self._held: dict[str, str] = {}  # lock key -> token
        self._held_lock = threading.Lock()
        self._keeper: threading.Thread | None = None

    def run(
        self, cache_key: str, call: Callable[[], T], lookup: Callable[[], H | Miss]
    ) -> LockOutcome[T, H]:
        """``call()`` under the key's lock, or what ``lookup()`` finds once another holder
        has stored it. ``lookup`` returns ``MISS`` until the entry exists."""
        key = self._keys.lock(cache_key)
        token = f"{self._nonce}:{os.getpid()}:{next(self._tokens)}"
        deadline = self._monotonic() + self._wait_s
        waited = False
        while True:
            if self._outage.quiet():
                return LockOutcome(call(), False, False)
            try:
                acquired = self._commands.one("SET", key, token, "NX", "PX", self._ttl_ms)
            except REDIS_ERRORS as exc:
                self._failed(exc)
                logger.warning("fleet lock unavailable, calling the provider directly: %s", exc)
                return LockOutcome(call(), False, False)
            if acquired:
                return LockOutcome(self._hold(key, token, call), False, waited)
            waited = True
            found = self._wait(key, deadline, lookup)
            if found is not None:
                if found is MISS:
                    return LockOutcome(call(), False, False)
                return LockOutcome(found, True, False)

    def _wait(self, key: str, deadline: float, lookup: Callable[[], H | Miss]) -> H | Miss | None:
        """The entry once stored; MISS to stop waiting and call; None to try the lock again."""
        while True:
            hit = lookup()
            if hit is not MISS:
                return hit
            if self._monotonic() >= deadline:
                logger.warning("waited %.1fs for another worker's answer; calling", self._wait_s)
                return MISS
            self._sleep(self._poll_s)
            try:
                if not self._commands.one("EXISTS", key):
                    hit = lookup()  # stored just before the holder let go
                    return hit if hit is not MISS else None
            except REDIS_ERRORS as exc:
                self._failed(exc)
                return MISS

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, redis.TimeoutError | TimeoutError):
            self._outage.timed_out()

    def _hold(self, key: str, token: str, call: Callable[[], T]) -> T:
        with self._held_lock:
            self._held[key] = token
            if self._keeper is None or not self._keeper.is_alive():
                self._keeper = threading.Thread(target=self._keep, name="llmix-locks", daemon=True)
                self._keeper.start()
        try:
            return call()
        finally:
            with self._held_lock:
                self._held.pop(key, None)
            try:
                self._commands.script(RELEASE, [(key, token)])
            except REDIS_ERRORS as exc:
                logger.debug("fleet lock release failed (it will expire): %s", exc)

    def _keep(self) -> None:
        """Reset held locks' TTL every third of it, all in one round trip; exit when none is
        held."""
        while True:
            time.sleep(self._ttl_s / 3)
            with self._held_lock:
                held = list(self._held.items())
                if not held:
                    self._keeper = None
                    return
            try:
                self._commands.script(RENEW, [(key, token, self._ttl_ms) for key, token in held])
            except REDIS_ERRORS as exc:
                logger.debug("fleet lock renewal failed: %s", exc)


class _Commands:
    """Lock commands on a borrowed pool connection (standalone, Sentinel) or through the
    cluster client (each command routed to the slot of its key)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        cluster = isinstance(client, RedisCluster)
        self._threads = None if cluster else ThreadConnections(client.connection_pool, keep=False)
        self._shas: dict[str, str] = {}

    def one(self, *args: Any) -> Any:
        if self._threads is None:
            return self._client.execute_command(*args)  # type: ignore[no-untyped-call]
        return self._threads.command(*args)

    def script(self, text: str, calls: Sequence[Sequence[Any]]) -> list[Any]:
        """Run the one-key script ``text`` once per ``(key, *args)`` of ``calls``: EVALSHA,
        and EVAL where the server does not know it (a restarted Redis)."""
        sha = self._shas.get(text)
        if sha is None:
            sha = self._shas[text] = _sha1(text)
        if self._threads is None:
            return [self._client.eval(text, 1, *call) for call in calls]
        replies = self._threads.pipeline([("EVALSHA", sha, 1, *call) for call in calls])
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            again = self._threads.pipeline([("EVAL", text, 1, *calls[i]) for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        for reply in replies:
            if isinstance(reply, redis.ResponseError):
                raise reply
        return replies


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()
