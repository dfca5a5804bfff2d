"""KeyPool: a provider's API keys, rotated on 429 and set aside on 401/403 for a cool-off
(``llm.key_cooloff_s``).

A rejected key is set aside for one endpoint (a *scope*: the base URL that rejected it) for
``cooloff_s`` seconds, then tried again: a key revoked by mistake, or rejected by a request's
own ``baseUrl``, does not spoil the provider's pool for the life of the process.

Keys never leave this object except through :meth:`KeyPool.select`, which hands one to the
provider for one request; the repr shows counts only and :meth:`KeyPool.redact` scrubs any key
out of a text before it goes into an error or a log.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable

from llmix_workers.errors import AuthError

REDACTED = "[redacted]"


class KeyPool:
    """Round-robin over the usable keys. Thread-safe; scope is the process.

    ``monotonic`` (seconds) times the cool-offs; tests pass a fake clock.
    """

    def __init__(
        self,
        keys: Iterable[str],
        *,
        provider: str,
        cooloff_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        cleaned = [key.strip() for key in keys if key.strip()]
        self._keys = list(dict.fromkeys(cleaned))
        self._until: dict[tuple[str, str], float] = {}  # (key, scope) -> usable again at
        self._index = 0
        self._provider = provider
        self._cooloff_s = cooloff_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        if not self._keys:
            raise AuthError(f"no API key for {provider}", provider=provider)

    @classmethod
    def parse(
        cls,
        value: str,
        *,
        provider: str,
        cooloff_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> KeyPool:
        """A pool from one setting value: a single key, or several separated by commas."""
        return cls(value.split(","), provider=provider, cooloff_s=cooloff_s, monotonic=monotonic)

    def select(self, scope: str = "") -> str:
        """The current usable key for endpoint ``scope``.

        Raises:
            AuthError: every key is set aside for ``scope``; says when one is tried again.
        """
        with self._lock:
            now = self._monotonic()
            for offset in range(len(self._keys)):
                index = (self._index + offset) % len(self._keys)
                if self._until.get((self._keys[index], scope), 0.0) <= now:
                    self._index = index
                    return self._keys[index]
            wait = min(self._until[(key, scope)] for key in self._keys) - now
        raise AuthError(
            f"every API key for {self._provider} was rejected (401/403); retried in "
            f"{math.ceil(wait):g} s (llm.key_cooloff_s)",
            provider=self._provider,
        )

    def rotate(self, key: str) -> None:
        """Move past ``key`` (after a 429 on it); a no-op when another thread already did."""
        with self._lock:
            if self._keys[self._index] == key:
                self._index = (self._index + 1) % len(self._keys)

    def retire(self, key: str, scope: str = "") -> None:
        """Set ``key`` aside for endpoint ``scope`` for the cool-off (after a 401/403)."""
        with self._lock:
            if key in self._keys:
                self._until[(key, scope)] = self._monotonic() + self._cooloff_s

    @property
    def alive(self) -> int:
        """How many keys are usable now on the provider's own endpoint (scope ``""``)."""
        return int(self.health()["usable"] or 0)

    def health(self, scope: str = "") -> dict[str, float | int | None]:
        """``keys`` (count), ``usable`` now for ``scope``, ``retryInS``: seconds until the
        next set-aside key is tried again (None when none is set aside)."""
        with self._lock:
            now = self._monotonic()
            waits = [self._until.get((key, scope), 0.0) - now for key in self._keys]
        aside = [wait for wait in waits if wait > 0]
        return {"keys": len(self._keys), "usable": len(waits) - len(aside),
                "retryInS": round(min(aside), 1) if aside else None}  # fmt: skip

    def __len__(self) -> int:
        return len(self._keys)

    def redact(self, text: str) -> str:
        """``text`` with every key of the pool (usable or not) replaced by ``[redacted]``."""
        for key in self._keys:
            if key in text:
                text = text.replace(key, REDACTED)
        return text

    def __repr__(self) -> str:
        return f"KeyPool(provider={self._provider!r}, keys={len(self._keys)}, alive={self.alive})"
