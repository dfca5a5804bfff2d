"""Every exception llmix_workers raises, rooted at :class:`LlmixError`."""

from __future__ import annotations


class LlmixError(Exception):
    """Base class for every error raised by llmix_workers."""


class ConfigError(LlmixError, ValueError):
    """Raised when a setting or argument has a value that is not allowed.

    It subclasses :class:`ValueError` so code written against the LLMix bindings, which raise
    ``ValueError`` for a bad cache strategy, keeps working.
    """


class CacheError(LlmixError):
    """Raised when the response cache cannot do what was asked of it."""


class L2Unavailable(CacheError):
    """Raised inside an L2 backend when Redis cannot be reached or answers too slowly.

    :class:`~llmix_workers.cache.tiered.TwoTierCache` turns it into a miss; it never reaches
    callers of ``get`` or ``set``.
    """


class ClearFailed(CacheError):
    """Raised when a clear emptied L1 but could not delete the L2 keys; L2 reads stay blocked."""


class CacheKeyError(CacheError, ValueError):
    """Raised when a cache-key parameter cannot be put in canonical JSON (the message names it)."""
