"""Request → LLMix cache key: ``prefix + sha256(canonical JSON of the key params)``.

Only the fifteen fields of :data:`CACHE_KEY_FIELDS` count; absent and
null ones are left out, as are a top-level NaN/±Inf and an empty ``baseUrl``. The digest never
depends on the prefix.

The fast path hands the params to orjson, whose output is already canonical for strings, ints up
to 2**53, booleans and null; top-level floats are rewritten into a form orjson prints exactly as
ECMAScript does. Anything else (a nested float, a big int, a lone surrogate, an odd type) takes
the reference encoder in :mod:`llmix_workers.cache.canonical`; both give identical bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final, TypedDict

import orjson

from llmix_workers.cache.canonical import canonical_json, js_number

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


_MAX_SAFE_INT = 2**53
#: Serialised params → digest, for requests seen before in this process (see cache_key_digest).
_MEMO: dict[bytes, str] = {}
_MEMO_LIMITS = {"entry_bytes": 256 * 1024, "total_bytes": 16 * 1024 * 1024}
_memo_bytes = [0]


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

    A request seen before in this process costs one orjson serialisation and a dict lookup: its
    serialised form maps to its digest in a bounded memo (16 MiB; requests carrying fields other
    than the fifteen, such as an ``apiKey``, are never memoised). Equal orjson output means an
    equal JSON value, hence an equal canonical form, so the memo cannot change a key.
    """
    raw = None
    if params.__class__ is dict and params.keys() <= CACHE_KEY_FIELDS:
        try:
            raw = orjson.dumps(params, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            raw = None
        else:
            digest = _MEMO.get(raw)
            if digest is not None:
                return digest
    digest = _digest(params, raw)
    if raw is not None and len(raw) <= _MEMO_LIMITS["entry_bytes"]:
        if _memo_bytes[0] + len(raw) > _MEMO_LIMITS["total_bytes"]:
            _MEMO.clear()
            _memo_bytes[0] = 0
        _MEMO[raw] = digest
        _memo_bytes[0] += len(raw)
    return digest


def _digest(params: CacheKeyParams | Mapping[str, Any], raw: bytes | None) -> str:  # noqa: C901
    """The digest from scratch. ``raw`` is orjson's output for ``params`` when already made.

    The common request (strings, ints, a few floats, string-only messages) is checked in one
    flat loop and serialised by orjson; ``params`` is copied only when something must change.
    """
    body: Any = params if params.__class__ is dict else dict(params)
    omitted: list[str] = []
    value: Any
    for name, value in params.items():
        if name not in CACHE_KEY_FIELDS:
            omitted.append(name)
            continue
        kind = value.__class__
        if kind is str:
            if value or name != "baseUrl":
                continue
            omitted.append(name)
            continue
        if kind is list:
            for item in value:
                if item.__class__ is dict:
                    for inner in item.values():
                        if inner.__class__ is not str and not _orjson_exact(inner):
                            return _reference_digest(params)
                elif item.__class__ is not str and not _orjson_exact(item):
                    return _reference_digest(params)
            continue
        if kind is float:
            if value - value != 0:  # NaN or ±Inf: left out at the top level
                omitted.append(name)
                continue
            if 1e-5 <= abs(value) < 1e16 and not value.is_integer():
                continue  # orjson prints these exactly as ECMAScript does
            if body is params:
                body = dict(params)
            body[name] = _exact_float(value)
            continue
        if kind is int:
            if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
                continue
            return _reference_digest(params)
        if value is None:
            omitted.append(name)
        elif kind is not bool and not (kind is dict and _orjson_exact(value)):
            return _reference_digest(params)
    if omitted:
        if body is params:
            body = dict(params)
        for name in omitted:
            del body[name]
    if body is params and raw is not None:
        return hashlib.sha256(raw).hexdigest()
    try:
        data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # a lone surrogate or a non-string object key
        return _reference_digest(params)
    return hashlib.sha256(data).hexdigest()


def _exact_float(value: float) -> int | orjson.Fragment:
    """A whole float within 2**53 as an int (1.0 → 1, -0.0 → 0), else its JavaScript form."""
    if value.is_integer() and -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        return int(value)
    return orjson.Fragment(js_number(value) or "null")


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


def _orjson_exact(value: Any) -> bool:
    """True when orjson's output for ``value`` is canonical: JSON types, no float, no big int.

    One flat loop because it runs over every message of every request: a list of
    ``{"role": str, "content": str}`` costs one class check per value and no calls.
    """
    kind = value.__class__
    if kind is dict:
        value = value.values()
    elif kind is not list:
        return _orjson_exact_scalar(value)
    for item in value:
        kind = item.__class__
        if kind is str:
            continue
        if kind is dict:
            for inner in item.values():
                if inner.__class__ is not str and not _orjson_exact(inner):
                    return False
        elif not _orjson_exact(item):
            return False
    return True


def _orjson_exact_scalar(value: Any) -> bool:
    kind = value.__class__
    if kind is int:
        return -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT  # type: ignore[no-any-return]
    return kind is str or kind is bool or value is None
