"""FleetLock: one provider call per cache key across the fleet, while Redis is healthy.

The first worker to ``SET lock NX PX ttl`` calls the provider and writes the entry; a keeper
thread extends the lock while the call runs, so it only expires when its holder is gone. The
others poll L2 for the entry and return it as an L2 hit; when the lock disappears without an
entry (the holder died, failed, or got an uncacheable answer) one of them takes over. Waiting is
bounded by ``wait_s``; any Redis error means "call the provider yourself": never a deadlock,
never a failed job because of the lock.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from importlib import resources
from typing import Generic, TypeVar

import redis

from llmix_workers.cache.backend import MISS, Miss
from llmix_workers.fleet.keys import FleetKeys

T = TypeVar("T")
H = TypeVar("H")
logger = logging.getLogger(__name__)
_FAILURES = (redis.RedisError, OSError)


def _script(name: str) -> str:
    return resources.files("llmix_workers.fleet").joinpath(name).read_text(encoding="utf-8")


class FleetLock(Generic[H]):
    """Cross-process single flight keyed by cache key. Thread-safe; one per process."""

    def __init__(
        self,
        client: redis.Redis,
        keys: FleetKeys,
        *,
        ttl_s: float = 10.0,
        wait_s: float = 60.0,
        poll_s: float = 0.02,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._keys = keys
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._release = client.register_script(_script("release.lua"))
        self._renew = client.register_script(_script("renew.lua"))
        self._held: dict[str, str] = {}
        self._held_lock = threading.Lock()
        self._keeper: threading.Thread | None = None

    def run(self, cache_key: str, call: Callable[[], T], lookup: Callable[[], H | Miss]) -> T | H:
        """``call()`` under the key's lock, or what ``lookup()`` finds once another holder
        has stored it. ``lookup`` returns ``MISS`` until the entry exists."""
        name = self._keys.lock(cache_key)
        token = uuid.uuid4().hex
        deadline = self._monotonic() + self._wait_s
        while True:
            try:
                acquired = self._client.set(name, token, nx=True, px=self._ttl_ms)
            except _FAILURES as exc:
                logger.warning("fleet lock unavailable, calling the provider directly: %s", exc)
                return call()
            if acquired:
                return self._hold(name, token, call)
            found = self._wait(name, deadline, lookup)
            if found is not None:
                return found if found is not MISS else call()

    def _wait(self, name: str, deadline: float, lookup: Callable[[], H | Miss]) -> H | Miss | None:
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
                if not self._client.exists(name):
                    hit = lookup()  # stored just before the holder let go
                    return hit if hit is not MISS else None
            except _FAILURES:
                return MISS

    def _hold(self, name: str, token: str, call: Callable[[], T]) -> T:
        with self._held_lock:
            self._held[name] = token
            if self._keeper is None or not self._keeper.is_alive():
                self._keeper = threading.Thread(target=self._keep, name="llmix-locks", daemon=True)
                self._keeper.start()
        try:
            return call()
        finally:
            with self._held_lock:
                self._held.pop(name, None)
            try:
                self._release(keys=[name], args=[token])
            except _FAILURES as exc:
                logger.debug("fleet lock release failed (it will expire): %s", exc)

    def _keep(self) -> None:
        """Extend held locks every third of their TTL; exit when none is held."""
        while True:
            time.sleep(self._ttl_ms / 3000)
            with self._held_lock:
                held = dict(self._held)
                if not held:
                    self._keeper = None
                    return
            for name, token in held.items():
                try:
                    self._renew(keys=[name], args=[token, self._ttl_ms])
                except _FAILURES as exc:
                    logger.debug("fleet lock renewal failed: %s", exc)
