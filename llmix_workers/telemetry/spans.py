"""The span catalogue: every span the package starts, where, and the attributes it carries.

The names are the constants of :mod:`llmix_workers.telemetry.tracing`; the documentation's
telemetry reference is generated from this list, and a test checks that every span constant is
in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from llmix_workers.telemetry import tracing as t


@dataclass(frozen=True)
class SpanSpec:
    """One span: its name, its kind (``internal`` or ``client``), when it is made, and what it
    carries."""

    name: str
    kind: str
    where: str
    attributes: str


_L2_ATTRIBUTES: Final = (
    f"`{t.DB_SYSTEM_NAME}` = `redis`, `{t.DB_OPERATION_NAME}` (`GET`, `MGET`, `SET`, `UNLINK`, "
    f"`SCAN`), `{t.CACHE_KEY_DIGEST}`, `{t.CACHE_HIT}` on a get, `llmix.l2.keys` on `MGET`, "
    "`llmix.l2.deleted` on `UNLINK`"
)

SPANS: Final = (
    SpanSpec(t.SPAN_CACHE_GET, "internal", "each cache lookup of a job",
             f"`{t.CACHE_TIER}` (`l1`, `l2`, `none`), `{t.CACHE_HIT}`, `{t.CACHE_KEY_DIGEST}`"),
    SpanSpec(t.SPAN_CACHE_SET, "internal", "storing an answer", f"`{t.CACHE_KEY_DIGEST}`"),
    SpanSpec(t.SPAN_L2_GET, "client", "each L2 read", _L2_ATTRIBUTES),
    SpanSpec(t.SPAN_L2_SET, "client", "each L2 write", _L2_ATTRIBUTES),
    SpanSpec(t.SPAN_L2_DELETE_ENTRIES, "client", "the L2 part of a clear", _L2_ATTRIBUTES),
    SpanSpec(t.SPAN_L2_COUNT_ENTRIES, "client", "counting L2 entries (`cache stats`)",
             _L2_ATTRIBUTES),
    SpanSpec(t.SPAN_FLEET_LOCK_WAIT, "internal",
             "a miss that waits for another worker's call under the fleet lock",
             f"`{t.CACHE_KEY_DIGEST}`"),
    SpanSpec(t.SPAN_CACHE_CLEAR, "internal", "the `llmix.cache_clear` task",
             "`llmix.cache.generation`, `llmix.cache.l2_deleted`"),
    SpanSpec(t.SPAN_LLM_CALL, "client", "each provider call, retries inside it",
             f"`{t.GEN_AI_OPERATION_NAME}` (`chat`), `{t.GEN_AI_PROVIDER_NAME}` (and the older "
             f"`{t.GEN_AI_SYSTEM}`), `{t.GEN_AI_REQUEST_MODEL}`, `{t.GEN_AI_RESPONSE_MODEL}`, "
             f"`{t.GEN_AI_USAGE_INPUT_TOKENS}`, `{t.GEN_AI_USAGE_OUTPUT_TOKENS}`; "
             f"`{t.GEN_AI_INPUT_MESSAGES}` and `{t.GEN_AI_OUTPUT_MESSAGES}` only with "
             "`telemetry.otel_record_content`"),
)  # fmt: skip
