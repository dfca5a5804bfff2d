"""``[llm.budgets]``: budgets by provider or provider/model, bad ones refused naming the field."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from llmix_workers.errors import ConfigError
from llmix_workers.settings import load_settings
from llmix_workers.wiring.budgets import check_budgets

BUDGET = {"openai": {"rpm": 5}}


def test_budgets_by_provider_and_model() -> None:
    budgets = {"openai": {"rpm": 500, "tpm": 200_000}, "openai/gpt-4o-mini": {"tpm": 10}}
    loaded = load_settings(llm={"budgets": budgets}).llm.budgets
    assert loaded["openai"].rpm == 500 and loaded["openai"].tpm == 200_000
    assert loaded["openai/gpt-4o-mini"].rpm is None and loaded["openai/gpt-4o-mini"].tpm == 10


@pytest.mark.parametrize(
    ("budgets", "message"),
    [
        ({"openai": {"rpm": 0}}, r"llm\.budgets\.openai\.rpm: .*greater than or equal to 1"),
        ({"openai": {"tpm": -5}}, r"llm\.budgets\.openai\.tpm: "),
        ({"openai": {}}, r"llm\.budgets\.openai: .*neither rpm nor tpm"),
        ({"openai": {"rpn": 5}}, r"llm\.budgets\.openai\.rpn: .*[Ee]xtra"),
        ({"Open AI": {"rpm": 5}}, r"llm\.budgets: .*'Open AI'.*provider/model"),
    ],
)
def test_bad_budgets_are_refused_naming_the_field(budgets: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(llm={"budgets": budgets})


@pytest.mark.parametrize(
    ("field", "value"),
    [("budget_burst_s", 0), ("budget_output_tokens", 0), ("budget_recovery_s", -1)],
)
def test_bad_budget_knobs_are_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=rf"llm\.{field}: "):
        load_settings(llm={field: value})


def test_budgets_without_the_fleets_redis_are_refused_before_any_job(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("LLMIX_") or name == "REDIS_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    check_budgets(load_settings(redis={"url": "redis://127.0.0.1:1"}, llm={"budgets": BUDGET}))
    check_budgets(load_settings())  # no budgets, no Redis: nothing to hold
    with pytest.raises(ConfigError, match=r"llm\.budgets needs the fleet's Redis"):
        check_budgets(load_settings(llm={"budgets": BUDGET}))
