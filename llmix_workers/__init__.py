"""llmix_workers: LLM completion jobs on a Celery fleet through an LLMix two-tier response cache."""

from llmix_workers.cache.backend import MISS, L2Backend
from llmix_workers.cache.backends.memory import MemoryL2
from llmix_workers.cache.backends.null import NullL2
from llmix_workers.cache.backends.redis import RedisL2
from llmix_workers.cache.entry import Entry, decode_entry, encode_entry
from llmix_workers.cache.keys import CacheKeyParams, generate_cache_key
from llmix_workers.cache.stats import CacheStats
from llmix_workers.cache.strategy import (
    CachingStrategy,
    ResponseCacheStrategy,
    is_response_cache_strategy,
    resolve_response_cache_strategy,
    should_skip_cache,
)
from llmix_workers.cache.tiered import CacheHit, ClearResult, TwoTierCache
from llmix_workers.errors import (
    CacheError,
    CacheKeyError,
    ClearFailed,
    ConfigError,
    L2Unavailable,
    LlmixError,
)
from llmix_workers.settings import Settings, load_settings
from llmix_workers.wiring.cache import build_response_cache

__all__ = [
    "MISS",
    "CacheError",
    "CacheHit",
    "CacheKeyError",
    "CacheKeyParams",
    "CacheStats",
    "CachingStrategy",
    "ClearFailed",
    "ClearResult",
    "ConfigError",
    "Entry",
    "L2Backend",
    "L2Unavailable",
    "LlmixError",
    "MemoryL2",
    "NullL2",
    "RedisL2",
    "ResponseCacheStrategy",
    "Settings",
    "TwoTierCache",
    "build_response_cache",
    "decode_entry",
    "encode_entry",
    "generate_cache_key",
    "is_response_cache_strategy",
    "load_settings",
    "resolve_response_cache_strategy",
    "should_skip_cache",
]
