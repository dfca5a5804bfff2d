"""ProviderRouter: one LLMClient for every provider, each built on first use.

It owns the process's HTTP connection pool (one ``httpx.Client``, keep-alive, timeouts from
``[llm]``) and one key pool per provider, so a key retired in one call stays retired for all.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping

import httpx

from llmix_workers.llm.client import LLMClient
from llmix_workers.llm.key_pool import KeyPool
from llmix_workers.llm.providers.context import ProviderContext
from llmix_workers.llm.registry import ProviderRegistry
from llmix_workers.llm.request import LLMRequest, LLMResult
from llmix_workers.settings import LLMSettings


class ProviderRouter:
    """Routes each request to the provider it names. Thread-safe.

    ``env`` is where keys fall back to (``os.environ`` when ``None``, read when a provider is
    first built); ``transport`` replaces httpx's network transport.
    """

    def __init__(
        self,
        settings: LLMSettings,
        *,
        registry: ProviderRegistry | None = None,
        env: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.registry = registry or ProviderRegistry.from_settings(settings.custom_providers)
        self._env = os.environ if env is None else env
        self._wall_clock = wall_clock
        self.http = httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
            transport=transport,
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
        return KeyPool.parse(value, provider=name) if value.strip(", ") else None
