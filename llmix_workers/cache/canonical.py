"""Canonical JSON as the LLMix cache contract defines it, the reference encoder (the rules:
docs/reference/cache-contract.md, "Canonical JSON").

Object keys sorted by code point at every depth, no whitespace, strings as raw UTF-8 except
``"``, ``\\`` and controls below U+0020 (``\\b \\f \\n \\r \\t`` short, others ``\\u00xx``), a
lone surrogate as ``\\udxxx``, numbers in the ECMAScript shortest form (``Number::toString``)
and a non-finite number as ``null``. :mod:`llmix_workers.cache.keys` has a fast path that must
produce the same bytes; this module is the slow, obviously-correct one the tests compare it with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from llmix_workers.errors import CacheKeyError

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_SHORT_ESCAPES["\t"] = "\\t"
_ESCAPES = {chr(code): f"\\u{code:04x}" for code in range(0x20)} | _SHORT_ESCAPES
_ESCAPES |= {chr(code): f"\\u{code:04x}" for code in range(0xD800, 0xE000)}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)


def es_number(value: float) -> str:
    """Format a finite number as ECMAScript's ``Number.prototype.toString`` does.

    ``1.0`` → ``1``, ``-0.0`` → ``0``, ``1e21`` → ``1e+21``, ``1e-7`` → ``1e-7``, ``1e-6`` →
    ``0.000001``. Python's ``repr`` gives the same shortest round-trip digits; only the layout
    differs, and the layout is what this function decides.
    """
    if value == 0:
        return "0"
    if value < 0:
        return "-" + es_number(-value)
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    count = len(digits)
    if count <= point <= 21:
        return digits + "0" * (point - count)
    if 0 < point <= 21:
        return f"{digits[:point]}.{digits[point:]}"
    if -6 < point <= 0:
        return "0." + "0" * -point + digits
    sign = "+" if point - 1 >= 0 else "-"
    head = digits[0] if count == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{head}e{sign}{abs(point - 1)}"


def js_number(value: int | float) -> str | None:
    """A number as JavaScript prints it (ints past 2**53 become doubles); None if infinite."""
    if isinstance(value, int):
        if -(2**53) <= value <= 2**53:
            return str(value)
        try:
            value = float(value)
        except OverflowError:
            return None
    if not math.isfinite(value):
        return None
    return es_number(value)


def encode_string(text: str) -> str:
    """A JSON string literal under the contract's escaping rules."""
    return '"' + text.translate(_ESCAPE_TABLE) + '"'


def canonical_json(value: Any, path: str = "$") -> str:
    """Encode ``value`` canonically; ``path`` names the field in errors.

    Raises:
        CacheKeyError: a value is not JSON (bytes, a set, an object) or a mapping key is not a
            string; the message names the field by its path (``messages[0].content``).
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return encode_string(value)
    if isinstance(value, int | float):
        return js_number(value) or "null"
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise CacheKeyError(f"{path}: object keys must be strings, got {key!r}")
        parts = []
        for key in sorted(value):
            item = canonical_json(value[key], f"{path}.{key}")
            parts.append(f"{encode_string(key)}:{item}")
        return "{" + ",".join(parts) + "}"
    if isinstance(value, list | tuple):
        items = (canonical_json(item, f"{path}[{index}]") for index, item in enumerate(value))
        return "[" + ",".join(items) + "]"
    raise CacheKeyError(f"{path}: {type(value).__name__} cannot be part of a cache key")
