"""FleetLock: one provider call per cache key across the fleet, while Redis is healthy.

The first worker to take the key's lock (redis-py's :class:`redis.lock.Lock`, non-blocking, not
thread-local) calls the provider and writes the entry; a keeper thread re-acquires the lock
(resets its TTL) while the call runs, so it only expires when its holder is gone. The others poll
L2 for the entry and return it as an L2 hit; when the lock disappears without an entry (the
holder died, failed, or got an uncacheable answer) one of them takes over. Waiting is bounded by
``wait_s``; any Redis error means "call the provider yourself": never a deadlock, never a failed
job because of the lock. A lock command that times out opens the Redis's
:class:`~llmix_workers.topology.outage.Outage` (shared with the other parts on that Redis), and
while it lasts the lock is not tried at all: a hung Redis costs a job one timeout at most.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import redis
from redis.exceptions import LockError
from redis.lock import Lock

from llmix_workers.cache.backend import MISS, Miss
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.topology.clients import REDIS_ERRORS
from llmix_workers.topology.outage import Outage

T = TypeVar("T")
H = TypeVar("H")
logger = logging.getLogger(__name__)


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
        self._client = client
        self._keys = keys
        self._ttl_s = ttl_s
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._outage = outage if outage is not None else Outage(ttl_s, monotonic)
        self._held: set[Lock] = set()
        self._held_lock = threading.Lock()
        self._keeper: threading.Thread | None = None

    def run(
        self, cache_key: str, call: Callable[[], T], lookup: Callable[[], H | Miss]
    ) -> LockOutcome[T, H]:
        """``call()`` under the key's lock, or what ``lookup()`` finds once another holder
        has stored it. ``lookup`` returns ``MISS`` until the entry exists."""
        lock = Lock(self._client, self._keys.lock(cache_key), timeout=self._ttl_s,
                    blocking=False, thread_local=False)  # fmt: skip
        deadline = self._monotonic() + self._wait_s
        waited = False
        while True:
            if self._outage.quiet():
                return LockOutcome(call(), False, False)
            try:
                acquired = lock.acquire()
            except REDIS_ERRORS as exc:
                self._failed(exc)
                logger.warning("fleet lock unavailable, calling the provider directly: %s", exc)
                return LockOutcome(call(), False, False)
            if acquired:
                return LockOutcome(self._hold(lock, call), False, waited)
            waited = True
            found = self._wait(lock, deadline, lookup)
            if found is not None:
                if found is MISS:
                    return LockOutcome(call(), False, False)
                return LockOutcome(found, True, False)

    def _wait(self, lock: Lock, deadline: float, lookup: Callable[[], H | Miss]) -> H | Miss | None:
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
                if not lock.locked():
                    hit = lookup()  # stored just before the holder let go
                    return hit if hit is not MISS else None
            except REDIS_ERRORS as exc:
                self._failed(exc)
                return MISS

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, redis.TimeoutError | TimeoutError):
            self._outage.timed_out()

    def _hold(self, lock: Lock, call: Callable[[], T]) -> T:
        with self._held_lock:
            self._held.add(lock)
            if self._keeper is None or not self._keeper.is_alive():
                self._keeper = threading.Thread(target=self._keep, name="llmix-locks", daemon=True)
                self._keeper.start()
        try:
            return call()
        finally:
            with self._held_lock:
                self._held.discard(lock)
            try:
                lock.release()
            except (LockError, *REDIS_ERRORS) as exc:  # LockNotOwnedError: it expired
                logger.debug("fleet lock release failed (it will expire): %s", exc)

    def _keep(self) -> None:
        """Reset held locks' TTL every third of it; exit when none is held."""
        while True:
            time.sleep(self._ttl_s / 3)
            with self._held_lock:
                held = list(self._held)
                if not held:
                    self._keeper = None
                    return
            for lock in held:
                try:
                    lock.reacquire()
                except (LockError, *REDIS_ERRORS) as exc:
                    logger.debug("fleet lock renewal failed: %s", exc)
