from __future__ import annotations

import json

import orjson
import pytest

from llmix_workers.cache.entry import Entry, decode_entry, encode_entry

NOW = 1_700_000_500.0


def test_encoding_is_compact_json_with_data_and_cached_at() -> None:
    payload = encode_entry(Entry("hé <think>x</think>", 1_700_000_000.25))
    assert payload == '{"data":"hé <think>x</think>","cached_at":1700000000.25}'.encode()


def test_extra_fields_are_written_and_read_back() -> None:
    usage = {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}
    payload = encode_entry(Entry("x", 1.5e9, {"usage": usage, "data": "ignored"}))
    body = orjson.loads(payload)
    assert body["data"] == "x" and body["usage"] == usage
    entry = decode_entry(payload, NOW)
    assert entry == Entry("x", 1.5e9, {"usage": usage})


def test_lone_surrogates_survive_a_round_trip() -> None:
    payload = encode_entry(Entry("a\ud800b", 1e9))
    assert b"\\ud800" in payload
    entry = decode_entry(payload, NOW)
    assert entry is not None and entry.data == "a\ud800b"


@pytest.mark.parametrize(
    ("body", "cached_at"),
    [
        ({"data": "x", "cached_at": 1_700_000_000}, 1_700_000_000.0),
        ({"data": "x", "cachedAt": 1_700_000_001.5}, 1_700_000_001.5),
        ({"data": "x", "cached_at": 1_700_000_000_123}, 1_700_000_000.123),
        ({"data": "x", "cachedAt": 1_700_000_000_500}, 1_700_000_000.5),
        ({"data": "x"}, NOW),
        ({"data": "x", "cached_at": 0}, NOW),
        ({"data": "x", "cached_at": -5}, NOW),
        ({"data": "x", "cached_at": "1700000000"}, NOW),
        ({"data": "x", "cached_at": True}, NOW),
        ({"data": "x", "cached_at": None, "cachedAt": 1_600_000_000}, 1_600_000_000.0),
    ],
)
def test_cached_at_is_read_tolerantly(body: dict[str, object], cached_at: float) -> None:
    entry = decode_entry(json.dumps(body).encode(), NOW)
    assert entry is not None
    assert entry.data == "x"
    assert entry.cached_at == pytest.approx(cached_at)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"",
        b"null",
        b'"just a string"',
        b"[1, 2]",
        b'{"cached_at": 1}',
        b'{"data": 5, "cached_at": 1}',
        b'{"data": null}',
        b'{"data": ["x"]}',
        b'{"data": "x"',
        b"\xff\xfe garbage",
        b'{"data": "x", "cached_at": 1e999}' + b" trailing",
    ],
)
def test_anything_but_an_object_with_string_data_is_a_miss(raw: bytes) -> None:
    assert decode_entry(raw, NOW) is None


def test_non_finite_and_huge_timestamps_count_as_now() -> None:
    assert decode_entry(b'{"data":"x","cached_at":1e999}', NOW) == Entry("x", NOW)
    assert decode_entry(b'{"data":"x","cached_at":NaN}', NOW) == Entry("x", NOW)
    huge = b'{"data":"x","cached_at":' + b"9" * 400 + b"}"
    assert decode_entry(huge, NOW) == Entry("x", NOW)
