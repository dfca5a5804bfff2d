from __future__ import annotations

from typing import Any

import pytest

from llmix_workers.llm.thinking import strip_thinking
from tests.llm_support import load_fixture

VECTORS: list[dict[str, Any]] = load_fixture("thinking-strip-vectors.json")["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_upstream_vector(vector: dict[str, Any]) -> None:
    content, thinking = strip_thinking(vector["input"])
    assert content == vector["expectedContent"]
    assert thinking == vector["expectedThinking"]


def test_text_without_tags_comes_back_unchanged() -> None:
    assert strip_thinking("  padded answer \n") == ("  padded answer \n", None)


def test_fixture_has_every_vector() -> None:
    assert len(VECTORS) == 12
