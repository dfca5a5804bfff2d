"""The L2 entry: compact JSON ``{"data": str, "cached_at": unix seconds, ...}``.

Writers put ``data`` (raw completion text, before thinking-tag stripping) and ``cached_at``;
this project adds ``ttl_s`` and ``usage`` as extra fields, which other LLMix readers ignore.
The reader is tolerant: ``cachedAt`` is accepted, a value above 1e12 is legacy milliseconds, a
missing, non-finite or non-positive one counts as now, and anything that is not an object with a
string ``data`` is ``None`` (a miss), never an exception.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import orjson

_LEGACY_MS_THRESHOLD = 1e12


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached response. ``extra`` holds the writer's additional fields (e.g. ``usage``)."""

    data: str
    cached_at: float
    extra: dict[str, Any] | None = None


def encode_entry(entry: Entry) -> bytes:
    """Compact JSON for L2; ``data`` and ``cached_at`` always win over extra fields."""
    body: dict[str, Any] = dict(entry.extra) if entry.extra else {}
    body["data"] = entry.data
    body["cached_at"] = entry.cached_at
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:  # a lone surrogate in the text: escape it as JSON allows
        return json.dumps(body, separators=(",", ":")).encode("ascii")


def decode_entry(raw: bytes | str, now: float) -> Entry | None:
    """Parse an L2 value written by any LLMix binding; ``None`` for anything malformed."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = _lenient_loads(raw)
    if body.__class__ is not dict:
        return None
    data = body.pop("data", None)
    if data.__class__ is not str:
        return None
    stamp = body.pop("cached_at", None)
    alias = body.pop("cachedAt", None)
    cached_at = _seconds(stamp)
    if cached_at is None:
        cached_at = _seconds(alias) or now
    return Entry(data, cached_at, body or None)


def _seconds(value: Any) -> float | None:
    if value.__class__ is not int and value.__class__ is not float:
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    if not 0 < seconds < math.inf:  # also false for NaN
        return None
    return seconds / 1000.0 if seconds > _LEGACY_MS_THRESHOLD else seconds


def _lenient_loads(raw: bytes | str) -> Any:
    """stdlib json accepts what orjson refuses and JSON allows (lone surrogate escapes)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None
