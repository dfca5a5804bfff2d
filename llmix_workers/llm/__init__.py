"""LLM providers over HTTP with the LLMix resilience rules (the stub provider is in ``testing``)."""

from llmix_workers.llm.aimd import AdaptiveLimiter, RateLimitInfo, parse_ratelimit_headers
from llmix_workers.llm.breaker import BreakerState, CircuitBreaker
from llmix_workers.llm.client import LLMClient
from llmix_workers.llm.factory import build_llm_client
from llmix_workers.llm.key_pool import KeyPool
from llmix_workers.llm.providers.anthropic import AnthropicClient
from llmix_workers.llm.providers.base import HTTPProvider
from llmix_workers.llm.providers.context import ProviderContext
from llmix_workers.llm.providers.openai_compat import OpenAICompatibleClient
from llmix_workers.llm.registry import ProviderRegistry
from llmix_workers.llm.request import LLMRequest, LLMResult, Usage
from llmix_workers.llm.resilient import ResilientClient
from llmix_workers.llm.retry import RetryPolicy
from llmix_workers.llm.router import ProviderRouter
from llmix_workers.llm.thinking import strip_thinking

__all__ = [
    "AdaptiveLimiter",
    "AnthropicClient",
    "BreakerState",
    "CircuitBreaker",
    "HTTPProvider",
    "KeyPool",
    "LLMClient",
    "LLMRequest",
    "LLMResult",
    "OpenAICompatibleClient",
    "ProviderContext",
    "ProviderRegistry",
    "ProviderRouter",
    "RateLimitInfo",
    "ResilientClient",
    "RetryPolicy",
    "Usage",
    "build_llm_client",
    "parse_ratelimit_headers",
    "strip_thinking",
]
