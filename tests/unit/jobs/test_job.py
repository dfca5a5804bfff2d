"""CompletionJob and the request it carries: every wire field is a cache-key field."""

from __future__ import annotations

from typing import Any

import pytest

from llmix_workers.cache.keys import CACHE_KEY_FIELDS, generate_cache_key
from llmix_workers.errors import InvalidRequest
from llmix_workers.jobs.job import CompletionJob
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


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": [value]}
    return value


BASE = {"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("depth", [300, 900])
@pytest.mark.parametrize("field", ["providerOptions", "responseFormat", "messages"])
def test_deep_nesting_is_refused_naming_the_field(depth: int, field: str) -> None:
    payload = dict(BASE)
    if field == "messages":
        payload["messages"] = [{"role": "user", "content": [{"type": "text", "x": nested(depth)}]}]
    else:
        payload[field] = nested(depth)
    with pytest.raises(InvalidRequest, match=f"^{field}: nested deeper than 64 levels"):
        CompletionJob.from_payload(payload)


def test_reasonable_nesting_is_fine() -> None:
    job = CompletionJob.from_payload({**BASE, "providerOptions": nested(20)})
    assert job.request.provider_options == nested(20)


def test_every_field_counts_toward_the_size_limit() -> None:
    payload = {**BASE, "providerOptions": {"blob": "x" * 3_000_000}}
    with pytest.raises(InvalidRequest, match=r"^request: .* over the limit .*providerOptions"):
        CompletionJob.from_payload(payload, max_request_bytes=1_048_576)


@pytest.mark.parametrize("field", ["temperature", "topP", "presencePenalty", "frequencyPenalty"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_named_as_such(field: str, value: float) -> None:
    with pytest.raises(InvalidRequest, match=f"{field}: must be a finite number"):
        CompletionJob.from_payload({**BASE, field: value})
