"""CompletionJob: one ``llmix.complete`` payload, validated: the request plus cache control."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

import orjson

from llmix_workers.errors import InvalidRequest
from llmix_workers.llm.request import LLMRequest

CacheMode = Literal["default", "bypass", "refresh", "no-store"]
CACHE_MODES: Final = frozenset(get_args(CacheMode))
#: Modes that look in the cache first, and modes that store what the provider answers.
READING_MODES: Final = frozenset({"default", "no-store"})
WRITING_MODES: Final = frozenset({"default", "refresh"})
MAX_TTL_S: Final = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class CompletionJob:
    """``cache``: ``default`` (read and write), ``bypass`` (neither), ``refresh`` (skip the
    read, write), ``no-store`` (read, don't write). ``ttl_s`` overrides the cache TTL."""

    request: LLMRequest
    cache: CacheMode = "default"
    ttl_s: int | None = None

    @classmethod
    def from_payload(cls, payload: Any, *, max_request_bytes: int | None = None) -> CompletionJob:
        """Validate a task payload (LLMix wire names plus ``cache`` and ``ttlS``), at most
        ``max_request_bytes`` of JSON when given (workers and producers pass
        ``worker.max_request_bytes``).

        Raises:
            InvalidRequest: the payload is not a valid job; the message names the field. Such a
                job fails at once and is never retried.
        """
        if not isinstance(payload, Mapping):
            raise InvalidRequest(f"request: must be a JSON object (got {type(payload).__name__})")
        fields = dict(payload)
        cache = fields.pop("cache", "default")
        if not isinstance(cache, str) or cache not in CACHE_MODES:
            allowed = ", ".join(sorted(CACHE_MODES))
            raise InvalidRequest(f"cache: must be one of {allowed} (got {cache!r})")
        ttl_s = fields.pop("ttlS", None)
        if ttl_s is not None and (type(ttl_s) is not int or not 1 <= ttl_s <= MAX_TTL_S):
            raise InvalidRequest(f"ttlS: must be a whole number of seconds from 1 to {MAX_TTL_S}")
        _check_shape(fields, max_request_bytes)
        return cls(LLMRequest.from_payload(fields), cache, ttl_s)  # type: ignore[arg-type]

    def wire(self) -> dict[str, Any]:
        """The payload to enqueue: camelCase request fields plus cache control."""
        body = self.request.wire()
        if self.cache != "default":
            body["cache"] = self.cache
        if self.ttl_s is not None:
            body["ttlS"] = self.ttl_s
        return body


#: Deepest nesting of objects and lists a request may carry (JSON encoders stop near 255).
MAX_DEPTH: Final = 64


def _check_shape(fields: dict[str, Any], limit: int | None) -> None:
    """Refuse non-finite numbers, nesting deeper than :data:`MAX_DEPTH` and requests over
    ``limit`` bytes (``None``: no limit), naming the field, before anything recursive looks at
    them."""
    for name, value in fields.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidRequest(f"{name}: must be a finite number (got {value})")
        if _too_deep(value):
            raise InvalidRequest(f"{name}: nested deeper than {MAX_DEPTH} levels")
    if limit is None:
        return
    sizes = {name: _json_size(value) for name, value in fields.items()}
    total = sum(sizes.values())
    if total > limit:
        largest = max(sizes, key=lambda name: sizes[name])
        raise InvalidRequest(
            f"request: {total:,} bytes is over the limit of {limit:,} (worker.max_request_bytes;"
            f" largest field {largest}: {sizes[largest]:,} bytes)"
        )


def _too_deep(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


def _json_size(value: Any) -> int:
    try:
        return len(orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_SUBCLASS, default=str))
    except (TypeError, orjson.JSONEncodeError):
        return 0  # not JSON-shaped: LLMRequest names the problem
