"""CacheConfig: what a TwoTierCache reads from its settings section, without importing settings."""

from __future__ import annotations

from typing import Protocol


class CacheConfig(Protocol):
    """The settings section a TwoTierCache reads (``CacheSettings`` is one)."""

    @property
    def key_prefix(self) -> str: ...
    @property
    def ttl_s(self) -> int: ...
    @property
    def l1_max_entries(self) -> int: ...
    @property
    def l2_cooloff_s(self) -> float: ...
    @property
    def l2_max_entry_bytes(self) -> int: ...
    @property
    def clear_batch_size(self) -> int: ...
