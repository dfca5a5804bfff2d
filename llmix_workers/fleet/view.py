"""FleetView: the fleet's stamp and blocked flag as a producer sees them, read-only.

A producer that answers cached requests itself (cache-first enqueue) must obey the same rules as
a worker, yet it is no member of the fleet: it never registers and is not waited for by a clear.
So it holds no lease: it reads the state afresh on every check (one pipelined round trip per
batch lookup, which :meth:`TwoTierCache.get_many` makes before and after its L2 reads), and when
Redis does not answer it cannot prove it is current: the whole batch then goes to the workers.
"""

from __future__ import annotations

import logging

import redis

from llmix_workers.cache.backend import L1Owner
from llmix_workers.cache.stamp import Stamp
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.topology.clients import REDIS_ERRORS

logger = logging.getLogger(__name__)


class FleetView:
    """A read-only :class:`~llmix_workers.cache.backend.Invalidator`. Reach: this process, by
    reading what the fleet decided; it never joins the members set. Thread-safe."""

    def __init__(self, client: redis.Redis, keys: FleetKeys) -> None:
        self._client = client
        self._keys = keys
        self._cache: L1Owner | None = None
        self._stamp: Stamp | None = None
        self._blocked = True

    def attach(self, cache: L1Owner) -> None:
        self._cache = cache

    def current(self) -> Stamp | None:
        pipe = self._client.pipeline(transaction=True)
        pipe.get(self._keys.epoch)
        pipe.get(self._keys.generation)
        pipe.get(self._keys.blocked)
        try:
            epoch, generation, blocked = pipe.execute()
        except REDIS_ERRORS as exc:
            logger.debug("fleet state unreadable, nothing answered from the cache: %s", exc)
            self._blocked = True
            return None
        # No epoch: no fleet state (new, or lost). Epoch "" admits untagged entries only, which a
        # clear deletes; tagged ones come from some epoch, perhaps one a clear has since ended.
        text = "" if epoch is None else epoch.decode() if isinstance(epoch, bytes) else str(epoch)
        stamp = Stamp(text, int(generation or 0))
        if stamp != self._stamp:
            self._stamp = stamp
            if self._cache is not None:
                self._cache.clear_l1()
        self._blocked = blocked is not None
        return self._stamp

    def l2_blocked(self) -> bool:
        return self._blocked
