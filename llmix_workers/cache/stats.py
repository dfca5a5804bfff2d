"""CacheStats: one process's cache in numbers, the one shape for ``cache stats`` and replies."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from llmix_workers.cache.strategy import ResponseCacheStrategy

_WIRE = {
    "l1_size": "l1Size", "l1_max": "l1Max", "l2_enabled": "l2Enabled",
    "l2_healthy": "l2Healthy", "strategy": "strategy", "l2_blocked": "l2Blocked",
    "l1_hits": "l1Hits", "l2_hits": "l2Hits", "misses": "misses", "l2_errors": "l2Errors",
    "generation": "generation",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What ``TwoTierCache.stats()`` reports; the first five fields are the LLMix ones."""

    l1_size: int
    l1_max: int
    l2_enabled: bool
    l2_healthy: bool
    strategy: ResponseCacheStrategy
    l2_blocked: bool = False
    l1_hits: int = 0
    l2_hits: int = 0
    misses: int = 0
    l2_errors: int = 0
    generation: int | None = None

    def to_wire(self) -> dict[str, Any]:
        """camelCase JSON-ready fields (a fleet reply, ``cache stats --json``)."""
        return {_WIRE[name]: value for name, value in asdict(self).items()}

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> CacheStats:
        """The inverse of :meth:`to_wire`; unknown fields (``node``, ``pid``…) are ignored."""
        return cls(**{name: body[wire] for name, wire in _WIRE.items() if wire in body})
