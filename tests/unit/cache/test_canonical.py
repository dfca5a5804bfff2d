from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmix_workers.cache.canonical import canonical_json, encode_string, es_number, js_number

VECTORS = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "es-number-vectors.json").read_text()
)


def test_every_node_vector_formats_identically() -> None:
    wrong = [(text, node, es_number(float(text))) for text, node in VECTORS["vectors"]
             if es_number(float(text)) != node]  # fmt: skip
    assert len(VECTORS["vectors"]) > 2900
    assert wrong == []


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_es_number_round_trips(value: float) -> None:
    text = es_number(value)
    assert float(text) == value
    assert " " not in text and not text.endswith(".0")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2**53, "9007199254740992"), (2**53 + 1, "9007199254740992"), (-(2**60), "-1152921504606847000"),
     (10**400, None), (math.nan, None), (-math.inf, None), (7, "7")],
)  # fmt: skip
def test_js_number_treats_ints_as_a_javascript_peer_would(
    value: float, expected: str | None
) -> None:
    assert js_number(value) == expected


def test_string_escapes_only_what_the_contract_lists() -> None:
    assert encode_string('a"b\\c/d') == '"a\\"b\\\\c/d"'
    assert encode_string("\x1f\x0b\x7f\u2028é") == '"\\u001f\\u000b\x7f\u2028é"'
    assert encode_string("\ud83d") == '"\\ud83d"'


def test_tuples_are_arrays_and_nested_mappings_sort() -> None:
    assert canonical_json({"b": (1, 2.0), "a": {"y": None, "x": True}}) == (
        '{"a":{"x":true,"y":null},"b":[1,2]}'
    )
