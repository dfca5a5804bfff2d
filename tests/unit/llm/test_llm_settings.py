from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from llmix_workers.cli import main
from llmix_workers.errors import ConfigError
from llmix_workers.settings import LLMSettings, load_settings
from tests.llm_support import SECRET_KEY

REPO = Path(__file__).resolve().parents[3]


def test_the_documented_defaults_are_the_code_defaults() -> None:
    from_file = load_settings(REPO / "settings.toml").llm
    assert from_file == LLMSettings()
    assert from_file.max_inline_wait_s == 5.0
    assert from_file.max_attempts == 4


def test_api_keys_come_from_the_environment_as_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMIX_LLM__API_KEYS__OPENAI", SECRET_KEY)
    monkeypatch.setenv("LLMIX_LLM__BASE_URLS__VLLM", "http://gpu:8000/v1")
    settings = load_settings(REPO / "settings.toml")
    assert settings.llm.api_keys["openai"].get_secret_value() == SECRET_KEY
    assert settings.llm.base_urls == {"vllm": "http://gpu:8000/v1"}
    assert SECRET_KEY not in repr(settings)


def test_settings_command_masks_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMIX_LLM__API_KEYS__ANTHROPIC", SECRET_KEY)
    result = CliRunner().invoke(main, ["--settings", str(REPO / "settings.toml"), "settings"])
    assert result.exit_code == 0
    assert '"anthropic": "****cdef (from llm.api_keys.anthropic)"' in result.output
    assert SECRET_KEY not in result.output


def test_concurrency_floor_above_the_start_is_refused() -> None:
    with pytest.raises(ConfigError, match="llm.concurrency_min: .*concurrency_initial"):
        load_settings(llm={"concurrency_initial": 4, "concurrency_min": 8})
