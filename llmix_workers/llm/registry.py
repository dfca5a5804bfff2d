"""ProviderRegistry: provider name → the class that speaks its API, built-in or your own.

Your own provider is any class constructed as ``Class(context: ProviderContext)`` that
implements :class:`~llmix_workers.llm.client.LLMClient`, named in settings by dotted path::

    [llm.custom_providers]
    mycorp = "mycorp_llm.provider:MyCorpClient"

Its keys are read from ``llm.api_keys.mycorp`` or ``MYCORP_API_KEY``. A custom entry may reuse a
built-in class under a new name, e.g. an OpenAI-compatible gateway:
``"llmix_workers.llm.providers.openai_compat:OpenAICompatibleClient"`` plus
``llm.base_urls.mycorp``.
"""

from __future__ import annotations

import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from llmix_workers.errors import ConfigError, InvalidRequest
from llmix_workers.llm.client import LLMClient
from llmix_workers.llm.providers.anthropic import AnthropicClient
from llmix_workers.llm.providers.context import ProviderContext
from llmix_workers.llm.providers.openai_compat import ENDPOINTS, OpenAICompatibleClient

ProviderFactory = Callable[[ProviderContext], LLMClient]


@dataclass(frozen=True)
class ProviderEntry:
    """How to build one provider, and the environment variable its keys fall back to."""

    factory: ProviderFactory
    key_env: str


def default_key_env(name: str) -> str:
    """``OPENAI_API_KEY`` for ``openai``: the usual variable name for a provider's key."""
    return name.upper().replace("-", "_").replace(".", "_") + "_API_KEY"


BUILTIN_PROVIDERS: dict[str, ProviderEntry] = {
    **{name: ProviderEntry(OpenAICompatibleClient, default_key_env(name)) for name in ENDPOINTS},
    "anthropic": ProviderEntry(AnthropicClient, "ANTHROPIC_API_KEY"),
}


class ProviderRegistry:
    """Names to provider entries; starts with the built-ins."""

    def __init__(self, entries: dict[str, ProviderEntry] | None = None) -> None:
        self._entries = dict(BUILTIN_PROVIDERS if entries is None else entries)

    @classmethod
    def from_settings(cls, custom_providers: dict[str, str]) -> ProviderRegistry:
        """The built-ins plus ``llm.custom_providers`` (which may replace a built-in).

        Raises:
            ConfigError: a dotted path does not import or does not name a class.
        """
        registry = cls()
        for name, path in custom_providers.items():
            registry.register(name, import_provider(name, path))
        return registry

    def register(self, name: str, factory: ProviderFactory, *, key_env: str | None = None) -> None:
        """Add or replace provider ``name``."""
        self._entries[name] = ProviderEntry(factory, key_env or default_key_env(name))

    def get(self, name: str) -> ProviderEntry:
        """The entry for ``name``.

        Raises:
            InvalidRequest: no provider of that name is registered.
        """
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise InvalidRequest(f'unknown provider "{name}" (known: {known})') from None

    def names(self) -> Iterable[str]:
        """Every registered name, sorted."""
        return sorted(self._entries)


def import_provider(name: str, path: str) -> ProviderFactory:
    """The class named by ``"package.module:Class"``.

    Raises:
        ConfigError: the module does not import, or the attribute is missing or not callable.
    """
    try:
        target: Any = pkgutil.resolve_name(path)
    except ImportError as exc:
        raise ConfigError(f"llm.custom_providers.{name}: cannot import {path}: {exc}") from None
    except (AttributeError, ValueError):
        target = None
    if not callable(target):
        raise ConfigError(f"llm.custom_providers.{name}: {path} is not a class")
    factory: ProviderFactory = target
    return factory
