"""Canonical key-params JSON built by orjson: the fast path beside :mod:`.canonical`.

orjson with ``OPT_SORT_KEYS`` already writes the contract's form for strings (same escapes, raw
UTF-8, keys in code-point order), booleans, null and ints (``OPT_STRICT_INTEGER`` refuses those
past 2**53). It differs only on floats: ``1.0`` for ``1``, ``-0.0`` for ``0``, ``1e+16`` for
``10000000000000000``, ``1e-6`` for ``0.000001``; and it keeps top-level nulls, NaN (as ``null``)
and an empty ``baseUrl``, which the key leaves out. A float ``f`` with a fraction and
``1e-5 <= |f| < 1e16`` prints identically in both (the tests hold orjson to that); every other
number is rewritten here.

Every function returns ``None`` when the reference encoder must decide (a lone surrogate, a type
JSON cannot carry, a non-string object key, nesting orjson refuses); that encoder then gives the
bytes or the :class:`~llmix_workers.errors.CacheKeyError`. Process-wide state: a bounded cache of
float patches (plain dict operations, safe under the threads pool).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from llmix_workers.cache.canonical import es_number, js_number
from llmix_workers.cache.fields import CACHE_KEY_FIELDS

#: Options of the first serialisation: big ints, subclasses, dataclasses and datetimes raise
#: instead of being written in orjson's own way.
DUMPS_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_STRICT_INTEGER
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
_MAX_SAFE_INT = 2**53
#: ``"name":`` as orjson writes each key field.
_KEY_TOKENS = {name: f'"{name}":'.encode() for name in CACHE_KEY_FIELDS}
#: (field, float) → (``"field":`` + orjson's token, ``"field":`` + the ECMAScript form).
_FIXES: dict[tuple[str, float], tuple[bytes, bytes]] = {}


class _Unsupported(Exception):
    """A value the fast path leaves to the reference encoder."""


def canonical_bytes(params: dict[str, Any], raw: bytes) -> bytes | None:
    """The canonical UTF-8 JSON of ``params``, often ``raw`` itself.

    ``params`` holds key fields only and ``raw`` is ``orjson.dumps(params, DUMPS_OPTIONS)``.
    The common request (strings, booleans, ints, floats, string stop sequences, messages whose
    values are all strings) is checked with one visit per field and message value, never per
    character; a top-level float orjson prints differently (``"topP":1.0``) is swapped in place.
    Anything else is rebuilt by :func:`canonical_bytes_slow`.
    """
    patches = None
    for name, value in params.items():
        kind = type(value)
        if kind is str:
            if value or name != "baseUrl":
                continue
        elif kind is int:
            continue
        elif kind is float:
            if value % 1.0 and 1e-5 <= abs(value) < 1e16:
                continue
            if value - value == 0:
                patches = [(name, value)] if patches is None else [*patches, (name, value)]
                continue
        elif kind is list:
            if _only_strings(value, name == "messages"):
                continue
        elif kind is bool:
            continue
        return canonical_bytes_slow(params)
    if patches is None:
        return raw
    return _patched(params, raw, patches)


def _only_strings(items: list[Any], messages: bool) -> bool:
    """True for a list of strings, or with ``messages``, of objects whose values are strings."""
    if messages:
        for message in items:
            if type(message) is not dict:
                return False
            for value in message.values():
                if type(value) is not str:
                    return False
        return True
    for item in items:
        if type(item) is not str:
            return False
    return True


def _patched(params: dict[str, Any], raw: bytes, patches: list[tuple[str, float]]) -> bytes | None:
    """``raw`` with each patched top-level float token in its ECMAScript form.

    Sound only while no field holds an object and every list holds strings (or messages whose
    values are strings), which :func:`canonical_bytes` checks first: ``"name":`` followed by a
    number can then only be the top-level field (a ``"`` inside a string is always escaped).
    Fields sorting after ``messages`` are searched from the end, the others from the start.
    """
    for name, value in patches:
        patched = _patch_one(raw, name, value)
        if patched is None:
            return canonical_bytes_slow(params)
        raw = patched
    return raw


def _patch_one(raw: bytes, name: str, value: float) -> bytes | None:
    """``raw`` with the top-level ``name``'s token for ``value`` replaced (None: not found)."""
    fix = _FIXES.get((name, value))
    if fix is None:
        token = orjson.dumps(value)
        fix = (_KEY_TOKENS[name] + token, _KEY_TOKENS[name] + _js_float(value, token))
        if len(_FIXES) < 4096:
            _FIXES[name, value] = fix
    needle, fixed = fix
    start = raw.rfind(needle) if name > "messages" else raw.find(needle)
    end = start + len(needle)
    if start < 0 or raw[end : end + 1] not in (b",", b"}"):
        return None  # also -0.0 looked up as 0.0, whose token differs
    return b"".join((raw[:start], fixed, raw[end:]))


def _js_float(value: float, token: bytes) -> bytes:
    """The ECMAScript form of a finite ``value`` that orjson printed as ``token``."""
    if token.endswith(b".0") and abs(value) < 1e16:  # 1.0 → 1, -0.0 → 0
        return token[:-2] if value else b"0"
    return es_number(value).encode()


def canonical_bytes_slow(params: Mapping[str, Any]) -> bytes | None:
    """The canonical bytes from a copy of ``params`` in which orjson prints every number right.

    Leaves out what the key leaves out at the top level (null, a non-finite number, an empty
    ``baseUrl``, fields outside the fifteen are the caller's business); a number orjson would
    print differently becomes an ``orjson.Fragment`` of its ECMAScript form (``null`` when
    non-finite, as nested non-finite numbers are). One Python visit per value.
    """
    body: dict[str, Any] = {}
    try:
        for name, value in params.items():
            kind = value.__class__
            if value is None or (name == "baseUrl" and kind is str and not value):
                continue
            if (kind is int or kind is float) and js_number(value) is None:
                continue
            body[name] = _exact(value)
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except (_Unsupported, orjson.JSONEncodeError):
        return None


def _exact(value: Any) -> Any:
    """``value`` with each number orjson would misprint replaced by a Fragment of its JS form."""
    kind = value.__class__
    if kind is str or kind is bool or value is None:
        return value
    if kind is float:
        if value % 1.0 and 1e-5 <= abs(value) < 1e16:
            return value
        return orjson.Fragment(js_number(value) or "null")
    if kind is int:
        if -_MAX_SAFE_INT < value < _MAX_SAFE_INT:
            return value
        return orjson.Fragment(js_number(value) or "null")
    if kind is dict:
        return {key: _exact(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_exact(item) for item in value]
    raise _Unsupported
