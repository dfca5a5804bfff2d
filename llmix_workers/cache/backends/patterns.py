"""The ``SCAN MATCH`` patterns of L2 entries, shared by the Redis and Redis Cluster backends."""

from __future__ import annotations


def glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters so ``text`` matches only itself in ``SCAN MATCH``."""
    return "".join("\\" + char if char in "*?[]\\^" else char for char in text)


def entry_pattern(prefix: str) -> str:
    """The ``SCAN MATCH`` pattern of the entries under ``prefix``: it and 64 lowercase hex."""
    return glob_escape(prefix) + "[0-9a-f]" * 64
