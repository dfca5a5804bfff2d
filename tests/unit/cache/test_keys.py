from __future__ import annotations

import dataclasses
import datetime
import enum
import hashlib
import importlib.util
import json
import math
import random
import shutil
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmix_workers import CacheKeyError, generate_cache_key
from llmix_workers.cache import plain_body as plain_body_module
from llmix_workers.cache.canonical import es_number
from llmix_workers.cache.keys import (
    CACHE_KEY_FIELDS,
    _reference_digest,
    _uncached_digest,
    cache_key_digest,
    canonical_key_params,
)
from llmix_workers.cache.plain_body import plain_body

FIXTURES = Path(__file__).parents[2] / "fixtures"
UPSTREAM = json.loads((FIXTURES / "cache-key-vectors.json").read_text(encoding="utf-8"))
BASE: dict[str, Any] = {"provider": "openai", "model": "m", "messages": []}


def digest_of(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@pytest.mark.parametrize("vector", UPSTREAM["vectors"], ids=lambda v: v["name"])
def test_upstream_vectors_with_their_prefix(vector: dict[str, Any]) -> None:
    assert generate_cache_key(vector["input"], prefix=UPSTREAM["prefix"]) == vector["expectedKey"]


@pytest.mark.parametrize("vector", UPSTREAM["vectors"], ids=lambda v: v["name"])
def test_upstream_vectors_with_the_rust_v2_prefix(vector: dict[str, Any]) -> None:
    digest = vector["expectedKey"].removeprefix(UPSTREAM["prefix"])
    assert generate_cache_key(vector["input"]) == "llmix:resp:v2:" + digest


# (name, extra params on top of BASE, the canonical JSON of the extra part as the rules say)
OWN_VECTORS: list[tuple[str, dict[str, Any], str]] = [
    (
        "whole floats hash as integers",
        {"temperature": 1.0, "topP": 0.0},
        '"temperature":1,"topP":0',
    ),
    ("negative zero is zero", {"temperature": -0.0}, '"temperature":0'),
    (
        "1e21 keeps an explicit plus",
        {"providerOptions": {"x": 1e21}},
        '"providerOptions":{"x":1e+21}',
    ),
    (
        "1e20 is written out",
        {"providerOptions": {"x": 1e20}},
        '"providerOptions":{"x":100000000000000000000}',
    ),
    ("1e-7 is exponential", {"temperature": 1e-7}, '"temperature":1e-7'),
    ("1e-6 is decimal", {"temperature": 1e-6}, '"temperature":0.000001'),
    ("smallest subnormal", {"temperature": 5e-324}, '"temperature":5e-324'),
    ("0.1 stays 0.1", {"temperature": 0.1}, '"temperature":0.1'),
    ("shortest round trip", {"topP": 0.1 + 0.2}, '"topP":0.30000000000000004'),
    ("large doubles", {"seed": 1.5e300}, '"seed":1.5e+300'),
    (
        "nested floats at every depth",
        {"responseFormat": {"s": {"min": 1.0, "max": [0.5, 2.0, 1e-6, -0.0, 1e16]}}},
        '"responseFormat":{"s":{"max":[0.5,2,0.000001,0,10000000000000000],"min":1}}',
    ),
    ("top-level NaN is left out", {"temperature": math.nan, "topP": math.inf}, ""),
    ("top-level -Inf is left out", {"frequencyPenalty": -math.inf}, ""),
    (
        "nested non-finite is null",
        {"providerOptions": {"a": math.nan, "b": [math.inf, -math.inf]}},
        '"providerOptions":{"a":null,"b":[null,null]}',
    ),
    (
        "control characters",
        {"stopSequences": ["\x00\x01\x1f", "\b\f\n\r\t", '"\\', "\x7f"]},
        '"stopSequences":["\\u0000\\u0001\\u001f","\\b\\f\\n\\r\\t","\\"\\\\","\x7f"]',
    ),
    (
        "U+2028 and U+2029 stay raw",
        {"stopSequences": ["a\u2028b\u2029"]},
        '"stopSequences":["a\u2028b\u2029"]',
    ),
    ("emoji stay raw", {"stopSequences": ["😀 naïve 東京"]}, '"stopSequences":["😀 naïve 東京"]'),
    (
        "lone surrogates are escaped",
        {"stopSequences": ["a\ud800b", "\udfff"]},
        '"stopSequences":["a\\ud800b","\\udfff"]',
    ),
    ("empty baseUrl is left out", {"baseUrl": ""}, ""),
    ("baseUrl kept when set", {"baseUrl": "http://x/v1"}, '"baseUrl":"http://x/v1"'),
    ("null fields are left out", {"seed": None, "topK": None, "responseFormat": None}, ""),
    (
        "false, 0, empty string and [] are kept",
        {"enableThinking": False, "topK": 0, "stopSequences": [""], "providerOptions": {"a": []}},
        '"enableThinking":false,"providerOptions":{"a":[]},"stopSequences":[""],"topK":0',
    ),
    ("stop sequences keep their order", {"stopSequences": ["b", "a"]}, '"stopSequences":["b","a"]'),
    ("ints past 2**53 become doubles", {"seed": 2**63}, '"seed":9223372036854776000'),
    ("ints up to 2**53 stay exact", {"seed": 2**53}, '"seed":9007199254740992'),
    (
        "keys sorted by code point at every depth",
        {"providerOptions": {"b": 1, "a": {"z": 1, "A": 2}, "é": 3, "Z": 4, "😀": 5, "\uffff": 6}},
        '"providerOptions":{"Z":4,"a":{"A":2,"z":1},"b":1,"é":3,"\uffff":6,"😀":5}',
    ),
    ("unknown fields are ignored", {"apiKey": "sk-secret", "cache": "bypass"}, ""),
]


@pytest.mark.parametrize(("extra", "canonical"), [(v[1], v[2]) for v in OWN_VECTORS],
                         ids=[v[0] for v in OWN_VECTORS])  # fmt: skip
def test_own_vectors(extra: dict[str, Any], canonical: str) -> None:
    params = BASE | extra
    expected = _sorted_top_level(canonical)
    assert canonical_key_params(params) == expected
    assert generate_cache_key(params, prefix="p:") == "p:" + digest_of(expected)


def _sorted_top_level(extra_json: str) -> str:
    """BASE's three fields merged with the vector's, in code-point order of their names."""
    pieces = {"messages": "[]", "model": '"m"', "provider": '"openai"'}
    if extra_json:
        decoder = json.JSONDecoder()
        text = "{" + extra_json + "}"
        index = 1
        while index < len(text) - 1:
            name, index = decoder.raw_decode(text, index)
            value_start = index + 1
            _, index = decoder.raw_decode(text, value_start)
            pieces[name] = text[value_start:index]
            index += 1  # the comma
    return "{" + ",".join(f'"{k}":{pieces[k]}' for k in sorted(pieces)) + "}"


def test_digest_never_depends_on_the_prefix() -> None:
    params = BASE | {"temperature": 0.2}
    assert generate_cache_key(params, prefix="a:").removeprefix("a:") == cache_key_digest(params)
    assert generate_cache_key(params).endswith(cache_key_digest(params))


@pytest.mark.parametrize(
    ("params", "where"),
    [
        (BASE | {"providerOptions": {"blob": b"bytes"}}, "$.providerOptions.blob"),
        (BASE | {"messages": [{"role": "user", "content": {1, 2}}]}, "$.messages[0].content"),
        (BASE | {"providerOptions": {1: "int key"}}, "$.providerOptions"),
        (BASE | {"seed": object()}, "$.seed"),
    ],
)
def test_values_json_cannot_carry_name_the_field(params: dict[str, Any], where: str) -> None:
    with pytest.raises(
        CacheKeyError, match=r"^" + f"{where}".replace("$", r"\$").replace("[", r"\[")
    ):
        generate_cache_key(params)


# --- property tests -------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
key_params = st.fixed_dictionaries(
    {},
    optional={name: json_values for name in sorted(CACHE_KEY_FIELDS)}
    | {"apiKey": st.text(), "extra": json_values},
)


@settings(max_examples=400, deadline=None)
@given(key_params)
def test_fast_path_matches_the_reference_encoder(params: dict[str, Any]) -> None:
    reference = _reference_digest(params)
    key_fields = {k: v for k, v in params.items() if k in CACHE_KEY_FIELDS}
    assert _uncached_digest(key_fields) == reference
    assert cache_key_digest(params) == reference
    assert cache_key_digest(params) == reference  # and again: the fast path keeps no state


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


@settings(max_examples=200, deadline=None)
@given(key_params, st.integers(min_value=0, max_value=2**32))
def test_key_never_depends_on_key_order(params: dict[str, Any], seed: int) -> None:
    assert generate_cache_key(_shuffled(params, random.Random(seed))) == generate_cache_key(params)


@settings(max_examples=200, deadline=None)
@given(key_params, st.sets(st.sampled_from(sorted(CACHE_KEY_FIELDS))))
def test_an_absent_field_equals_a_null_one(params: dict[str, Any], nulled: set[str]) -> None:
    absent = {k: v for k, v in params.items() if k not in nulled}
    explicit_null = absent | dict.fromkeys(nulled)
    assert generate_cache_key(explicit_null) == generate_cache_key(absent)


# --- the orjson fast path against the reference encoder ----------------------------------------

edge_floats = st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, 2.0, 1e-5, 9.99e-6, 1e-6, 1e-7, 5e-324, 1e15, 1e16, 1e20, 1e21,
     2.0**53, 0.1, 0.7, 1.5e300, math.nan, math.inf, -math.inf]
)  # fmt: skip
numbers = (
    edge_floats
    | st.floats()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**53 - 1, 2**53, 2**53 + 1, -(2**53), 2**64, True, False])
)
texts = st.text(max_size=20) | st.sampled_from(["", "😀 naïve 東京", "a\ud800b", "\udfff", '"\\\n'])
message = st.dictionaries(
    st.sampled_from(["role", "content", "name", "topP", "temperature", "frequencyPenalty"]),
    texts | numbers | st.lists(st.dictionaries(texts, texts | numbers, max_size=3), max_size=2),
    max_size=4,
)
nested = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
requests = st.fixed_dictionaries(
    {"provider": texts, "model": texts, "messages": st.lists(message, max_size=3)},
    optional={
        **{name: numbers | st.none() for name in ("temperature", "topP", "topK", "seed")},
        **{name: numbers for name in ("frequencyPenalty", "presencePenalty", "maxOutputTokens")},
        "baseUrl": texts | st.none(),
        "enableThinking": st.booleans() | st.none(),
        "stopSequences": st.lists(texts, max_size=3),
        "providerOptions": nested,
        "responseFormat": nested,
    },
)


@settings(max_examples=600, deadline=None)
@given(requests, st.integers(min_value=0, max_value=2**32))
def test_first_sight_matches_the_reference_for_request_shaped_input(
    params: dict[str, Any], seed: int
) -> None:
    reference = _reference_digest(params)
    assert cache_key_digest(params) == reference
    assert cache_key_digest(_shuffled(params, random.Random(seed))) == reference


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_orjson_prints_the_floats_it_is_trusted_with_as_ecmascript_does(value: float) -> None:
    if value % 1.0 and 1e-5 <= abs(value) < 1e16:
        assert orjson.dumps(value).decode() == es_number(value)


def test_orjson_agrees_with_node_wherever_it_is_trusted() -> None:
    vectors = json.loads((FIXTURES / "es-number-vectors.json").read_text())["vectors"]
    trusted = [(float(text), node) for text, node in vectors
               if float(text) % 1.0 and 1e-5 <= abs(float(text)) < 1e16]  # fmt: skip
    assert len(trusted) > 100
    assert [node for _, node in trusted] == [orjson.dumps(v).decode() for v, _ in trusted]


@pytest.mark.parametrize(
    ("extra", "canonical"),
    [
        ({"topP": 1.0, "messages": [{"topP": "1.0", "content": "x"}]},
         '"messages":[{"content":"x","topP":"1.0"}],"model":"m","provider":"openai","topP":1'),
        ({"frequencyPenalty": 2.0, "messages": [{"frequencyPenalty": "2.0"}]},
         '"frequencyPenalty":2,"messages":[{"frequencyPenalty":"2.0"}],"model":"m","provider":"openai"'),
        ({"temperature": 0.0, "topP": -0.0},
         '"messages":[],"model":"m","provider":"openai","temperature":0,"topP":0'),
        ({"temperature": -0.0, "topP": 0.0},
         '"messages":[],"model":"m","provider":"openai","temperature":0,"topP":0'),
        ({"seed": 1e16, "topK": 1e-6, "topP": 1e21},
         '"messages":[],"model":"m","provider":"openai","seed":10000000000000000,"topK":0.000001,"topP":1e+21'),
        ({"seed": True, "topK": 1}, '"messages":[],"model":"m","provider":"openai","seed":true,"topK":1'),
    ],
)  # fmt: skip
def test_patched_top_level_floats(extra: dict[str, Any], canonical: str) -> None:
    params = BASE | extra
    assert canonical_key_params(params) == "{" + canonical + "}"
    assert cache_key_digest(params) == digest_of("{" + canonical + "}")
    assert params == BASE | extra  # the caller's dict is never rewritten


class Colour(enum.Enum):
    RED = "red"


class Role(enum.StrEnum):
    USER = "user"


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [Colour.RED, Role.USER, uuid.UUID(int=7), datetime.date(2024, 1, 2), Point(1),
     orjson.Fragment(b"1"), (1, 2.0), 2**64, -(2**80), 10**400],
)  # fmt: skip
def test_odd_values_behave_as_the_reference_says(value: Any) -> None:
    for params in (BASE | {"seed": value}, BASE | {"messages": [{"role": value}]}):
        try:
            expected: str | type[CacheKeyError] = _reference_digest(params)
        except CacheKeyError:
            expected = CacheKeyError
        if expected is CacheKeyError:
            with pytest.raises(CacheKeyError):
                cache_key_digest(params)
        else:
            assert cache_key_digest(params) == expected


def test_the_common_request_goes_to_orjson_as_it_is_and_odd_ones_are_rebuilt() -> None:
    common = BASE | {"temperature": 0.7, "seed": 3, "stopSequences": ["\n"],
                     "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    assert plain_body(common) is common
    whole = common | {"topP": 1.0, "baseUrl": "", "topK": None}
    assert plain_body(whole) == common | {"topP": 1}
    for odd in ({"topP": 1e-6}, {"seed": 2.0**60}, {"topP": math.nan},
                {"responseFormat": {"type": "json_object"}},
                {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]},
                {"messages": [{"role": "user", "weight": 0.5}]}):  # fmt: skip
        assert plain_body(common | odd) is None
        assert cache_key_digest(common | odd) == _reference_digest(common | odd)


def _pure_python_plain_body() -> Any:
    """plain_body loaded from its source file, whether or not the installed one is compiled."""
    source = Path(plain_body_module.__file__).with_name("plain_body.py")
    spec = importlib.util.spec_from_file_location("plain_body_source", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.plain_body


def test_the_walk_is_compiled_wherever_a_c_compiler_was_there_at_install() -> None:
    compiled = not plain_body_module.__file__.endswith(".py")
    if shutil.which("cc") or shutil.which("gcc"):
        assert compiled, (
            "llmix_workers/cache/plain_body.py is not compiled although a C compiler is here: "
            'reinstall the package (pip install -e ".[test]") so setup.py builds it with mypyc'
        )
    else:  # the optional build was skipped: the source runs as it is
        assert plain_body_module.__file__.endswith("plain_body.py")


@settings(max_examples=400, deadline=None)
@given(requests)
def test_the_compiled_and_the_source_walk_agree(params: dict[str, Any]) -> None:
    key_fields = {k: v for k, v in params.items() if k in CACHE_KEY_FIELDS}
    assert _pure_python_plain_body()(key_fields) == plain_body(key_fields)
