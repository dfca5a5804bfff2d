"""ProviderContext: everything a provider class is built from, and how providers find it.

Every provider, built-in or registered by dotted path, is constructed as ``Class(context)`` and
implements :class:`~llmix_workers.llm.client.LLMClient`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llmix_workers.llm.http import HTTPPool
from llmix_workers.llm.key_pool import KeyPool
from llmix_workers.settings import LLMSettings

#: Names whose section of ``providerOptions`` belongs to that provider only.
OPTION_NAMESPACES = frozenset(
    {"openai", "anthropic", "openrouter", "together", "deepinfra", "vllm", "ollama", "google"}
)


@dataclass(frozen=True)
class ProviderContext:
    """What the factory hands a provider: its name, settings, shared HTTP pool and keys.

    ``base_url`` is the configured URL (``llm.base_urls``), ``None`` for the provider's own
    default; a request's ``baseUrl`` wins over both. ``keys`` is ``None`` when no key is set.
    ``key_env`` names the environment variable the keys were looked up in (for messages).
    ``wall_clock`` (Unix seconds) reads HTTP-date ``Retry-After`` values.
    """

    name: str
    settings: LLMSettings
    http: HTTPPool
    keys: KeyPool | None = None
    base_url: str | None = None
    key_env: str = ""
    wall_clock: Callable[[], float] = field(default=time.time)


def merged_options(name: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``providerOptions`` that go into the request body of provider ``name``.

    Top-level keys are taken as body fields, except sections named after a provider (see
    :data:`OPTION_NAMESPACES`); the section named ``name`` is then merged over them, and an
    ``extra_body`` mapping (as the OpenAI SDK spells it) over that.
    """
    if not options:
        return {}
    namespaces = OPTION_NAMESPACES | {name}
    merged = {key: value for key, value in options.items() if key not in namespaces}
    own = options.get(name)
    if isinstance(own, Mapping):
        merged.update(own)
    extra = merged.pop("extra_body", None)
    if isinstance(extra, Mapping):
        merged.update(extra)
    return merged
