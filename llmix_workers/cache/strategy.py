"""The six LLMix caching strategies and which of them use the two-tier response cache."""

from __future__ import annotations

import logging
from typing import Final, Literal, get_args

from llmix_workers.errors import ConfigError

CachingStrategy = Literal["redis", "redis-or-memory", "memory", "native", "gateway", "disabled"]
ResponseCacheStrategy = Literal["redis", "redis-or-memory", "memory"]

RESPONSE_CACHE_STRATEGIES: Final = frozenset(get_args(ResponseCacheStrategy))
#: Strategies that leave caching to the provider or a gateway, or turn it off.
SKIP_STRATEGIES: Final = frozenset({"native", "gateway", "disabled"})
ALL_STRATEGIES: Final = RESPONSE_CACHE_STRATEGIES | SKIP_STRATEGIES

REDIS_URL_REQUIRED: Final = 'Response cache strategy "redis" requires REDIS_URL to be set.'

logger = logging.getLogger(__name__)


def is_response_cache_strategy(strategy: str) -> bool:
    """True for ``redis``, ``redis-or-memory`` and ``memory``."""
    return strategy in RESPONSE_CACHE_STRATEGIES


def should_skip_cache(strategy: str) -> bool:
    """True for ``native``, ``gateway`` and ``disabled``: no response cache at all."""
    return strategy in SKIP_STRATEGIES


def resolve_response_cache_strategy(
    strategy: str, redis_url: str | None
) -> ResponseCacheStrategy | None:
    """The strategy a cache runs with, or ``None`` when the strategy skips the response cache.

    ``redis-or-memory`` without a URL degrades to ``memory`` (logged once per call).

    Raises:
        ConfigError: ``redis`` without a URL (the LLMix message, a ``ValueError``), or a name
            that is not one of the six strategies.
    """
    if strategy not in ALL_STRATEGIES:
        allowed = ", ".join(sorted(ALL_STRATEGIES))
        raise ConfigError(f'unknown response cache strategy "{strategy}" (allowed: {allowed})')
    if should_skip_cache(strategy):
        return None
    if strategy == "redis" and not redis_url:
        raise ConfigError(REDIS_URL_REQUIRED)
    if strategy == "redis-or-memory" and not redis_url:
        logger.warning('cache strategy "redis-or-memory": no Redis URL, using L1 only')
        return "memory"
    return strategy  # type: ignore[return-value]
