"""The names a cache key is made of: the default prefixes and the fifteen key fields."""

from __future__ import annotations

from typing import Final

#: Default LLMix response-cache key prefix (llmix-rs 2.x); a setting. The digest ignores it.
DEFAULT_KEY_PREFIX: Final = "llmix:resp:v2:"
#: Prefix of the published Python and TypeScript 2.x bindings; same digest.
LEGACY_KEY_PREFIX: Final = "llmix:resp:"
#: Fields that make up a cache key, in their camelCase wire names. All others are ignored.
CACHE_KEY_FIELDS: Final = frozenset(
    {
        "baseUrl", "enableThinking", "frequencyPenalty", "maxOutputTokens", "messages", "model",
        "presencePenalty", "provider", "providerOptions", "responseFormat", "seed",
        "stopSequences", "temperature", "topK", "topP",
    }
)  # fmt: skip
