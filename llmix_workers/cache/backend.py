"""The L2 storage protocol and the ``MISS`` sentinel.

Backends store opaque bytes under a key with a TTL and delete by prefix; the entry format, TTL
policy and health rules live in :class:`~llmix_workers.cache.tiered.TwoTierCache`. A backend
raises :class:`~llmix_workers.errors.L2Unavailable` when its store cannot be reached.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from llmix_workers.cache.stamp import Stamp
    from llmix_workers.cache.stats import CacheStats


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

    def get_many(self, keys: Sequence[str]) -> list[bytes | Miss]:
        """``get`` of every key in one pipelined round trip (or a few), in order."""
        ...

    def set(self, key: str, payload: bytes, ttl_s: int) -> None:
        """Store ``payload`` for ``ttl_s`` seconds (≥ 1). Raises ``L2Unavailable``."""
        ...

    def delete_entries(self, prefix: str, batch_size: int) -> int:
        """Delete every entry under ``prefix`` in batches; return how many were deleted.

        An entry is a key made of ``prefix`` and exactly 64 lowercase hex digits (an LLMix
        digest): a longer prefix that starts with this one (``llmix:resp:`` vs
        ``llmix:resp:v2:``) and any other key are left alone.
        """
        ...

    def count_entries(self, prefix: str) -> int:
        """How many entries are under ``prefix`` (a scan; for stats, not for hot paths)."""
        ...

    def close(self) -> None:
        """Release connections. The backend is not used afterwards."""
        ...


class L1Owner(Protocol):
    """What an :class:`Invalidator` may ask of the cache it serves (nothing of its internals)."""

    def clear_l1(self) -> int:
        """Drop this process's L1; return how many entries it held."""
        ...

    def stats(self) -> CacheStats:
        """The cache's numbers, for the fleet's stats requests."""
        ...


@runtime_checkable
class Invalidator(Protocol):
    """Says what a cache may still serve (dogpile's invalidation strategy, made a lease).

    Each implementation states its reach: :class:`~llmix_workers.cache.invalidation.
    LocalInvalidator` covers this process only; :class:`~llmix_workers.fleet.member.FleetMember`
    follows the fleet's epoch, generation and blocked flag in Redis. Methods are called on the
    cache's hot path from many threads: a fresh answer must cost no I/O.
    """

    def attach(self, cache: L1Owner) -> None:
        """Called once by the cache it serves: a moved stamp drops that cache's L1."""
        ...

    def current(self) -> Stamp | None:
        """The stamp this process may serve under now, re-checked first when the last check is
        too old; ``None`` when it cannot prove it is current (then nothing is served from
        either tier and nothing is written). When the stamp has moved, the attached cache's L1
        was dropped before this returns."""
        ...

    def l2_blocked(self) -> bool:
        """True while L2 must not be read: a clear is running, or its L2 part failed."""
        ...
