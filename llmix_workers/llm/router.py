"""ProviderRouter: one LLMClient for every provider, each built on first use.

It owns the process's HTTP connection pool (one :class:`~llmix_workers.llm.http.HTTPPool`,
keep-alive, timeouts from ``[llm]``) and one key pool per provider, so a key retired in one call
stays retired for all.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping

from llmix_workers.llm.client import LLMClient
from llmix_workers.llm.http import HTTPPool
from llmix_workers.llm.key_pool import KeyPool
from llmix_workers.llm.providers.context import ProviderContext
from llmix_workers.llm.registry import ProviderRegistry
from llmix_workers.llm.request import LLMRequest, LLMResult
from llmix_workers.settings import LLMSettings
from llmix_workers.settings.sizing import http_connections


class ProviderRouter:
    """Routes each request to the provider it names. Thread-safe.

    ``env`` is where keys fall back to (``os.environ`` when ``None``, read when a provider is
    first built). An unset ``max_connections`` follows the default worker section
    (:func:`~llmix_workers.llm.factory.build_llm_client` passes settings sized for the real one).
    """

    def __init__(
        self,
        settings: LLMSettings,
        *,
        registry: ProviderRegistry | None = None,
        env: Mapping[str, str] | None = None,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.registry = registry or ProviderRegistry.from_settings(settings.custom_providers)
        self._env = os.environ if env is None else env
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self.http = HTTPPool(
            max_connections=http_connections(settings),
            timeout_s=settings.timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
        )
        self._providers: dict[str, LLMClient] = {}
        self._lock = threading.Lock()

    def provider(self, name: str) -> LLMClient:
        """The client of provider ``name``, built on first use.

        Raises:
            InvalidRequest: no such provider. AuthError: it needs a key and none is set.
        """
        with self._lock:
            client = self._providers.get(name)
            if client is None:
                client = self._providers[name] = self._build(name)
            return client

    def complete(self, request: LLMRequest) -> LLMResult:
        """Send ``request`` to its provider."""
        return self.provider(request.provider).complete(request)

    def close(self) -> None:
        """Close every provider built so far, then the connection pool."""
        with self._lock:
            providers, self._providers = list(self._providers.values()), {}
        for client in providers:
            client.close()
        self.http.close()

    def _build(self, name: str) -> LLMClient:
        entry = self.registry.get(name)
        context = ProviderContext(
            name=name,
            settings=self.settings,
            http=self.http,
            keys=self._keys(name, entry.key_env),
            base_url=self.settings.base_urls.get(name),
            key_env=entry.key_env,
            wall_clock=self._wall_clock,
        )
        return entry.factory(context)

    def _keys(self, name: str, key_env: str) -> KeyPool | None:
        configured = self.settings.api_keys.get(name)
        value = configured.get_secret_value() if configured else self._env.get(key_env, "")
        if not value.strip(", "):
            return None
        return KeyPool.parse(value, provider=name, cooloff_s=self.settings.key_cooloff_s,
                             monotonic=self._monotonic)  # fmt: skip

    def key_health(self) -> dict[str, dict[str, float | int | None]]:
        """Per provider: its keys, how many are usable now, when a set-aside one comes back.
        Covers the providers built so far and every provider a key is configured for."""
        with self._lock:
            built = dict(self._providers)
        health: dict[str, dict[str, float | int | None]] = {}
        for name in sorted(set(built) | set(self.settings.api_keys) | self._env_key_names()):
            keys = getattr(getattr(built.get(name), "context", None), "keys", None)
            if keys is None and name not in built:
                keys = self._keys(name, self.registry.get(name).key_env)
            health[name] = keys.health() if keys is not None else {"keys": 0, "usable": 0,
                                                                    "retryInS": None}  # fmt: skip
        return health

    def _env_key_names(self) -> set[str]:
        names = set()
        for name in self.registry.names():
            if self._env.get(self.registry.get(name).key_env, "").strip(", "):
                names.add(name)
        return names
