"""Names shared across the package: key prefixes, Redis roots, task names, schema version."""

from __future__ import annotations

from typing import Final

#: Default LLMix response-cache key prefix (llmix-rs 2.x); a setting. The digest ignores it.
DEFAULT_KEY_PREFIX: Final = "llmix:resp:v2:"
#: Prefix of the published Python and TypeScript 2.x bindings; same digest.
LEGACY_KEY_PREFIX: Final = "llmix:resp:"

#: Fields that make up a cache key, in their camelCase wire names. All others are ignored.
CACHE_KEY_FIELDS: Final = frozenset(
    {
        "baseUrl",
        "enableThinking",
        "frequencyPenalty",
        "maxOutputTokens",
        "messages",
        "model",
        "presencePenalty",
        "provider",
        "providerOptions",
        "responseFormat",
        "seed",
        "stopSequences",
        "temperature",
        "topK",
        "topP",
    }
)

DEFAULT_TTL_S: Final = 3600
DEFAULT_L1_MAX_ENTRIES: Final = 1000
#: Consecutive failed L2 writes that mark L2 unhealthy.
L2_UNHEALTHY_AFTER_FAILURES: Final = 3

#: Root of every fleet-coordination key in Redis (generation, blocked flag, workers, locks).
FLEET_ROOT: Final = "llmix:fleet:"

#: Version of the extra fields this project adds to L2 entries (readers ignore unknown fields).
ENTRY_SCHEMA_VERSION: Final = 1

#: Celery task names: explicit and stable, never the import path.
TASK_COMPLETE: Final = "llmix.complete"
#: A task that returns its argument: the benchmark's baseline on the same broker and pool.
TASK_NOOP: Final = "llmix.noop"
