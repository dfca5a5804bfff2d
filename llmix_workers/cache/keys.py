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

import hashlib
from collections.abc import Mapping
from typing import Any, TypedDict

import orjson

from llmix_workers.cache.canonical import canonical_json, js_number
from llmix_workers.cache.fields import CACHE_KEY_FIELDS as CACHE_KEY_FIELDS
from llmix_workers.cache.fields import DEFAULT_KEY_PREFIX as DEFAULT_KEY_PREFIX
from llmix_workers.cache.fields import LEGACY_KEY_PREFIX as LEGACY_KEY_PREFIX
from llmix_workers.cache.orjson_canonical import (
    DUMPS_OPTIONS,
    canonical_bytes,
    canonical_bytes_slow,
)


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


#: Serialised params → digest, for requests seen at least twice in this process.
_MEMO: dict[bytes, str] = {}
_MEMO_LIMITS = {"entry_bytes": 256 * 1024, "total_bytes": 16 * 1024 * 1024}
_memo_bytes = [0]
#: One flag per hash bucket: "a request hashing here was seen once" (see _memoise).
_SEEN_MASK = (1 << 16) - 1
_seen = bytearray(_SEEN_MASK + 1)
_memoised_since_reset = [0]


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

    A request seen before in this process costs one orjson serialisation and a dict lookup: from
    its second sight on, its serialised form maps to its digest in a bounded memo (16 MiB;
    requests carrying fields other than the fifteen, such as an ``apiKey``, are never memoised).
    Equal orjson output means an equal JSON value, hence an equal canonical form, so the memo
    cannot change a key. (orjson writes an enum or a UUID as its JSON value; once a request is
    memoised, an equal one holding such a value gets its key instead of an error.)

    Raises:
        CacheKeyError: a field holds something JSON cannot carry; the message names the field.
    """
    if params.__class__ is not dict or not params.keys() <= CACHE_KEY_FIELDS:
        return _uncached_digest({k: v for k, v in params.items() if k in CACHE_KEY_FIELDS})
    try:
        raw = orjson.dumps(params, option=DUMPS_OPTIONS)
    except orjson.JSONEncodeError:  # a lone surrogate, a big int, an odd type
        return _uncached_digest(params)
    digest = _MEMO.get(raw)
    if digest is not None:
        return digest
    data = canonical_bytes(params, raw)  # type: ignore[arg-type]
    if data is None:
        digest = _reference_digest(params)
    else:
        digest = hashlib.sha256(data).hexdigest()
    slot = hash(raw) & _SEEN_MASK  # hash(raw) was cached by the lookup
    if _seen[slot]:
        _memoise(raw, digest)
    else:
        _seen[slot] = 1
    return digest


def _memoise(raw: bytes, digest: str) -> None:
    """Keep ``raw`` → ``digest``: called on a request's second sight.

    Keeping every first-seen request alive costs more than hashing it again (a batch of unique
    requests churns 2 KB blocks through the allocator), so a first sight only sets a flag in a
    64 KiB table indexed by ``hash(raw)``; a flag already set (this request, or a colliding one)
    leads here. The table is cleared after every 64 requests memoised, which keeps it under about
    5 % full for a stream of unique requests (so few of them are kept by collision).
    """
    _memoised_since_reset[0] += 1
    if _memoised_since_reset[0] >= 64:
        _seen[:] = bytes(len(_seen))
        _memoised_since_reset[0] = 0
    if len(raw) <= _MEMO_LIMITS["entry_bytes"]:
        if _memo_bytes[0] + len(raw) > _MEMO_LIMITS["total_bytes"]:
            _MEMO.clear()
            _memo_bytes[0] = 0
        _MEMO[raw] = digest
        _memo_bytes[0] += len(raw)


def _uncached_digest(params: Mapping[str, Any]) -> str:
    """The digest of key-field-only ``params`` without the memo, by the rebuilding path."""
    data = canonical_bytes_slow(params)
    if data is None:
        return _reference_digest(params)
    return hashlib.sha256(data).hexdigest()


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
    return hashlib.sha256(canonical_key_params(params).encode("utf-8")).hexdigest()
