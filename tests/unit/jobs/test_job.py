"""CompletionJob and the request it carries: every wire field is a cache-key field."""

from __future__ import annotations

from typing import Any

import pytest

from llmix_workers.cache.keys import CACHE_KEY_FIELDS, generate_cache_key
from llmix_workers.llm.request import LLMRequest
from tests.llm_support import load_fixture

KEY_VECTORS = load_fixture("cache-key-vectors.json")


def test_the_request_carries_exactly_the_fifteen_key_fields() -> None:
    wire_names = {field.alias or name for name, field in LLMRequest.model_fields.items()}
    assert wire_names == CACHE_KEY_FIELDS


@pytest.mark.parametrize(
    "vector",
    [v for v in KEY_VECTORS["vectors"] if v["input"]["messages"]],
    ids=lambda v: v["name"],
)
def test_a_validated_request_reproduces_the_upstream_cache_keys(vector: dict[str, Any]) -> None:
    request = LLMRequest.from_payload(vector["input"])
    assert generate_cache_key(request.wire(), KEY_VECTORS["prefix"]) == vector["expectedKey"]
