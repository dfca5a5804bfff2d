"""Canonical key-params JSON built by orjson: the fast path beside :mod:`.canonical`.

orjson with ``OPT_SORT_KEYS`` already writes the contract's form for strings (same escapes, raw
UTF-8, keys in code-point order), booleans, null and ints (``OPT_STRICT_INTEGER`` refuses those
past 2**53). It differs only on floats: ``1.0`` for ``1``, ``-0.0`` for ``0``, ``1e+16`` for
``10000000000000000``, ``1e-6`` for ``0.000001``; and it keeps top-level nulls, NaN (as ``null``)
and an empty ``baseUrl``, which the key leaves out. A float ``f`` with a fraction and
``1e-5 <= |f| < 1e16`` prints identically in both (the tests hold orjson to that).

:func:`~llmix_workers.cache.plain_body.plain_body` passes the common request to orjson as it is
(or with its whole-number floats made ints); :func:`canonical_bytes_slow` rebuilds anything else
with each misprinted number as an ``orjson.Fragment``. Both leave to the reference encoder what
they cannot vouch for (a lone surrogate, a type JSON cannot carry, a non-string object key,
nesting orjson refuses); it gives the bytes or the :class:`~llmix_workers.errors.CacheKeyError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from llmix_workers.cache.canonical import js_number

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


class _Unsupported(Exception):
    """A value the fast path leaves to the reference encoder."""


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
