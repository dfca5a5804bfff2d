"""The LLMClient protocol: the one seam between the worker and any provider."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from llmix_workers.llm.request import LLMRequest, LLMResult


@runtime_checkable
class LLMClient(Protocol):
    """Makes one completion call. Implementations are thread-safe.

    ``complete`` raises :class:`~llmix_workers.errors.LLMError` subclasses only, with messages
    free of API keys; ``close`` releases connections and is idempotent.
    """

    def complete(self, request: LLMRequest) -> LLMResult:
        """Return the provider's answer to ``request``."""
        ...

    def close(self) -> None:
        """Release connections; the client is not used afterwards."""
        ...
