"""FleetView: the fleet's generation and blocked flag as a producer sees them, read-only.

A producer that answers cached requests itself (cache-first enqueue) must obey the same rules as
a worker, yet it is no member of the fleet: it never heartbeats and is not waited for by a clear.
So it reads the state afresh on every check (one pipelined round trip per batch lookup, which
:meth:`TwoTierCache.get_many` makes before and after its L2 reads), and when Redis does not
answer it treats L2 as blocked: the whole batch then goes to the workers.
"""

from __future__ import annotations

import logging

import redis

from llmix_workers.cache.backend import L1Owner
from llmix_workers.fleet.client import REDIS_ERRORS
from llmix_workers.fleet.keys import FleetKeys

logger = logging.getLogger(__name__)


class FleetView:
    """A read-only :class:`~llmix_workers.cache.backend.Invalidator`. Reach: this process, by
    reading what the fleet decided; it never joins the members set. Thread-safe."""

    def __init__(self, client: redis.Redis, keys: FleetKeys) -> None:
        self._client = client
        self._keys = keys
        self._cache: L1Owner | None = None
        self._state: tuple[bytes | None, int] | None = None
        self._blocked = True

    def attach(self, cache: L1Owner) -> None:
        self._cache = cache

    def generation(self) -> int:
        pipe = self._client.pipeline(transaction=True)
        pipe.get(self._keys.epoch)
        pipe.get(self._keys.generation)
        pipe.get(self._keys.blocked)
        try:
            epoch, generation, blocked = pipe.execute()
        except REDIS_ERRORS as exc:
            logger.debug("fleet state unreadable, L2 treated as blocked: %s", exc)
            self._blocked = True
            return self._state[1] if self._state else 0
        state = (epoch, int(generation or 0))
        if state != self._state and self._cache is not None:
            self._cache.clear_l1()
        self._state = state
        self._blocked = blocked is not None
        return state[1]

    def l2_blocked(self) -> bool:
        return self._blocked
