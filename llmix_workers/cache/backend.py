"""The L2 storage protocol and the ``MISS`` sentinel.

Backends store opaque bytes under a key with a TTL and delete by prefix; the entry format, TTL
policy and health rules live in :class:`~llmix_workers.cache.tiered.TwoTierCache`. A backend
raises :class:`~llmix_workers.errors.L2Unavailable` when its store cannot be reached.
"""

from __future__ import annotations

import enum
from typing import Final, Literal, Protocol, runtime_checkable


class _Miss(enum.Enum):
    MISS = "MISS"

    def __repr__(self) -> str:
        return "MISS"

    def __bool__(self) -> Literal[False]:
        return False


#: Returned for "nothing stored here"; a miss is never ``None``.
MISS: Final = _Miss.MISS
Miss = Literal[_Miss.MISS]


@runtime_checkable
class L2Backend(Protocol):
    """Shared storage for cache entries. Every method is safe to call from many threads."""

    #: False for a backend that stores nothing (``NullL2``): the cache reports ``l2_enabled``.
    enabled: bool

    def get(self, key: str) -> bytes | Miss:
        """The stored bytes, or ``MISS``. Raises ``L2Unavailable`` when the store is down."""
        ...

    def set(self, key: str, payload: bytes, ttl_s: int) -> None:
        """Store ``payload`` for ``ttl_s`` seconds (≥ 1). Raises ``L2Unavailable``."""
        ...

    def delete_prefix(self, prefix: str, batch_size: int) -> int:
        """Delete every key starting with ``prefix`` in batches; return how many were deleted."""
        ...

    def count_prefix(self, prefix: str) -> int:
        """How many keys start with ``prefix`` (a scan; for stats, not for hot paths)."""
        ...

    def close(self) -> None:
        """Release connections. The backend is not used afterwards."""
        ...
