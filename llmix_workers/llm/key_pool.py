"""KeyPool: a provider's API keys, rotated on 429 and retired on 401/403.

Keys never leave this object except through :meth:`KeyPool.select`, which hands one to the
provider for one request; the repr shows counts only and :meth:`KeyPool.redact` scrubs any key
out of a text before it goes into an error or a log.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from llmix_workers.errors import AuthError

REDACTED = "[redacted]"


class KeyPool:
    """Round-robin over the live keys. Thread-safe; scope is the process."""

    def __init__(self, keys: Iterable[str], *, provider: str) -> None:
        cleaned = [key.strip() for key in keys if key.strip()]
        self._keys = list(dict.fromkeys(cleaned))
        self._retired: set[str] = set()
        self._index = 0
        self._provider = provider
        self._lock = threading.Lock()
        if not self._keys:
            raise AuthError(f"no API key for {provider}", provider=provider)

    @classmethod
    def parse(cls, value: str, *, provider: str) -> KeyPool:
        """A pool from one setting value: a single key, or several separated by commas."""
        return cls(value.split(","), provider=provider)

    def select(self) -> str:
        """The current live key.

        Raises:
            AuthError: every key has been retired.
        """
        with self._lock:
            for offset in range(len(self._keys)):
                index = (self._index + offset) % len(self._keys)
                if self._keys[index] not in self._retired:
                    self._index = index
                    return self._keys[index]
        raise AuthError(
            f"every API key for {self._provider} was rejected (401/403)", provider=self._provider
        )

    def rotate(self, key: str) -> None:
        """Move past ``key`` (after a 429 on it); a no-op when another thread already did."""
        with self._lock:
            if self._keys[self._index] == key:
                self._index = (self._index + 1) % len(self._keys)

    def retire(self, key: str) -> None:
        """Take ``key`` out of rotation for the life of the process (after a 401/403)."""
        with self._lock:
            if key in self._keys:
                self._retired.add(key)

    @property
    def alive(self) -> int:
        """How many keys are still in rotation."""
        with self._lock:
            return len(self._keys) - len(self._retired)

    def __len__(self) -> int:
        return len(self._keys)

    def redact(self, text: str) -> str:
        """``text`` with every key of the pool (live or retired) replaced by ``[redacted]``."""
        for key in self._keys:
            if key in text:
                text = text.replace(key, REDACTED)
        return text

    def __repr__(self) -> str:
        return f"KeyPool(provider={self._provider!r}, keys={len(self._keys)}, alive={self.alive})"
