"""What a worker process says of itself when the fleet is inspected (``llmix-workers workers``),
and which providers it can call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmix_workers.llm.client import LLMClient
from llmix_workers.llm.registry import BUILTIN_PROVIDERS
from llmix_workers.settings import Settings


def describer(settings: Settings, client: LLMClient) -> Callable[[], dict[str, Any]]:
    """A function answering pool, concurrency and API-key health (per provider: keys, usable
    now, seconds until a rejected one is retried); never a key itself."""
    router = getattr(client, "inner", client)

    def describe() -> dict[str, Any]:
        body: dict[str, Any] = {"pool": settings.worker.pool,
                                "concurrency": settings.worker.concurrency}  # fmt: skip
        key_health = getattr(router, "key_health", None)
        if key_health is not None:
            body["apiKeys"] = key_health()
        return body

    return describe


def known_providers(settings: Settings) -> list[str]:
    """The providers a worker can call: the built-ins and ``llm.custom_providers``."""
    return sorted({*BUILTIN_PROVIDERS, *settings.llm.custom_providers})
