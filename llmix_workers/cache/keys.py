"""Request → LLMix cache key: ``prefix + sha256(canonical JSON of the key params)``.

Only the fifteen fields of :data:`CACHE_KEY_FIELDS` count; absent and
null ones are left out, as are a top-level NaN/±Inf and an empty ``baseUrl``. The digest never
depends on the prefix.

The fast path (:mod:`llmix_workers.cache.orjson_canonical`) lets orjson write the JSON and
fixes only what it prints differently (a few number forms, top-level nulls); a lone surrogate or an
odd type takes the reference encoder in :mod:`llmix_workers.cache.canonical`. Both give identical
bytes; the property tests compare them.
"""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import sha256
from typing import Any, TypedDict

import orjson

from llmix_workers.cache.canonical import canonical_json, js_number
from llmix_workers.cache.fields import CACHE_KEY_FIELDS as CACHE_KEY_FIELDS
from llmix_workers.cache.fields import DEFAULT_KEY_PREFIX as DEFAULT_KEY_PREFIX
from llmix_workers.cache.fields import LEGACY_KEY_PREFIX as LEGACY_KEY_PREFIX
from llmix_workers.cache.orjson_canonical import (
    DUMPS_OPTIONS,
    canonical_bytes_slow,
)
from llmix_workers.cache.plain_body import plain_body


class CacheKeyParams(TypedDict, total=False):
    """The request fields that make up a cache key, by their LLMix wire names."""

    baseUrl: str | None
    enableThinking: bool | None
    frequencyPenalty: float | None
    maxOutputTokens: int | None
    messages: list[Mapping[str, Any]]
    model: str
    presencePenalty: float | None
    provider: str
    providerOptions: Mapping[str, Any] | None
    responseFormat: Mapping[str, Any] | None
    seed: int | None
    stopSequences: list[str] | None
    temperature: float | None
    topK: int | None
    topP: float | None


def generate_cache_key(
    params: CacheKeyParams | Mapping[str, Any], prefix: str = DEFAULT_KEY_PREFIX
) -> str:
    """Return the LLMix response-cache key of ``params`` (camelCase wire names).

    Raises:
        CacheKeyError: a field holds something JSON cannot carry; the message names the field.
    """
    return prefix + cache_key_digest(params)


def cache_key_digest(params: CacheKeyParams | Mapping[str, Any]) -> str:
    """The lowercase hex SHA-256 part of the key, without any prefix.

    The common request costs one visit per field and list item, one orjson serialisation and
    the hash (about 1.4× orjson + SHA-256 alone); fields other than the fifteen (an ``apiKey``)
    are dropped first, and anything :func:`plain_body` does not vouch for is rebuilt.

    Raises:
        CacheKeyError: a field holds something JSON cannot carry; the message names the field.
    """
    if params.__class__ is not dict or not params.keys() <= CACHE_KEY_FIELDS:
        return _uncached_digest({k: v for k, v in params.items() if k in CACHE_KEY_FIELDS})
    body = plain_body(params)  # type: ignore[arg-type]
    if body is None:
        return _uncached_digest(params)
    try:
        return sha256(orjson.dumps(body, option=DUMPS_OPTIONS)).hexdigest()
    except orjson.JSONEncodeError:  # a lone surrogate, a big int, a non-string object key
        return _uncached_digest(params)


def _uncached_digest(params: Mapping[str, Any]) -> str:
    """The digest of key-field-only ``params`` without the memo, by the rebuilding path."""
    data = canonical_bytes_slow(params)
    if data is None:
        return _reference_digest(params)
    return sha256(data).hexdigest()


def canonical_key_params(params: CacheKeyParams | Mapping[str, Any]) -> str:
    """The canonical JSON that is hashed, from the reference encoder (for tests and debugging)."""
    body: dict[str, Any] = {}
    for name, value in params.items():
        if value is None or name not in CACHE_KEY_FIELDS:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            if js_number(value) is None:
                continue
        elif name == "baseUrl" and value == "":
            continue
        body[name] = value
    return canonical_json(body)


def _reference_digest(params: CacheKeyParams | Mapping[str, Any]) -> str:
    return sha256(canonical_key_params(params).encode("utf-8")).hexdigest()
