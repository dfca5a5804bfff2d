"""NullL2: stores nothing. The ``memory`` strategy's L2, and "L2 off" in tests."""

from __future__ import annotations

from collections.abc import Sequence

from llmix_workers.cache.backend import MISS, Miss


class NullL2:
    """An L2 that is always empty and never fails."""

    enabled = False

    def get(self, key: str) -> bytes | Miss:
        return MISS

    def set(self, key: str, payload: bytes, ttl_s: int) -> None:
        return None

    def get_many(self, keys: Sequence[str]) -> list[bytes | Miss]:
        return [MISS] * len(keys)

    def delete_entries(self, prefix: str, batch_size: int) -> int:
        return 0

    def count_entries(self, prefix: str) -> int:
        return 0

    def close(self) -> None:
        return None
