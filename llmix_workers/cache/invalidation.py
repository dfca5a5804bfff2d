"""The clear rule shared by every clear, and the invalidator whose reach is one process.

A clear blocks L2 reads, deletes every entry under the prefix, and unblocks only when that
worked: so nothing written before the clear is served meanwhile, and a failed clear keeps L2
reads blocked until a later one succeeds. ``TwoTierCache.clear`` (this process) and the fleet
clear (:mod:`llmix_workers.fleet.control`, every process) both go through :func:`clear_entries`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from llmix_workers.cache.backend import L1Owner, L2Backend
from llmix_workers.cache.stamp import Stamp
from llmix_workers.errors import ClearFailed, L2Unavailable

logger = logging.getLogger(__name__)


def clear_entries(
    l2: L2Backend, prefix: str, batch_size: int, block: Callable[[bool], None]
) -> int:
    """``block(True)``, delete every entry under ``prefix``, ``block(False)``; return the count.

    ``block`` is where the blocked state lives: a flag of one cache, or the fleet's flag in Redis
    (which also moves the generation when blocking).

    Raises:
        ClearFailed: the deletion failed; ``block(False)`` was not called, reads stay blocked.
    """
    block(True)
    try:
        deleted = l2.delete_entries(prefix, batch_size)
    except L2Unavailable as exc:
        logger.error("cache clear failed, L2 reads blocked until a clear succeeds: %s", exc)
        raise ClearFailed(f"L2 clear failed, L2 reads stay blocked: {exc}") from None
    block(False)
    return deleted


class LocalInvalidator:
    """Reach: this process. The stamp moves only through :meth:`invalidate` and is always
    current; L2 is never blocked from outside. The default for a cache outside a fleet, and the
    test double (``lost = True`` plays a process that cannot prove it is current)."""

    def __init__(self) -> None:
        self._stamp = Stamp("local", 0, fleet=False)
        self._cache: L1Owner | None = None
        self.blocked = False
        self.lost = False

    def attach(self, cache: L1Owner) -> None:
        self._cache = cache

    def current(self) -> Stamp | None:
        return None if self.lost else self._stamp

    def l2_blocked(self) -> bool:
        return self.blocked

    def invalidate(self) -> int:
        """Move the stamp and drop the attached L1; return the entries dropped."""
        self._stamp = Stamp("local", self._stamp.generation + 1, fleet=False)
        return self._cache.clear_l1() if self._cache is not None else 0
