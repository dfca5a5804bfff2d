"""settings.toml and the settings classes agree: every option, its default, a comment of its own,
and valid examples for the options it leaves unset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from docgen.settings_page import SETTINGS_TOML, options, settings_file, table_options
from llmix_workers import ConfigError, load_settings
from llmix_workers.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("LLMIX_") or name == "REDIS_URL" or name.endswith("_API_KEY"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_every_option_is_in_the_file_and_nothing_else() -> None:
    documented = set(settings_file().options)
    known = set(options())
    assert sorted(known - documented) == [], "options missing from settings.toml"
    assert sorted(documented - known) == [], "settings.toml has options the classes do not"


def test_every_option_has_a_comment_of_its_own() -> None:
    bare = [path for path, option in settings_file().options.items() if not option.comment]
    assert bare == []


def test_the_file_holds_the_defaults() -> None:
    assert load_settings(SETTINGS_TOML) == Settings()


def test_only_options_without_a_default_are_commented_out() -> None:
    infos = options()
    for path, option in settings_file().options.items():
        default = infos[path].get_default(call_default_factory=True)
        unset = default is None or default == {}
        assert option.commented == unset, f"{path}: commented out {option.commented}, {default=}"


def test_the_commented_examples_are_valid(tmp_path: Path) -> None:
    examples = tmp_path / "examples.toml"
    examples.write_text(settings_file().examples)
    settings = load_settings(examples)
    assert settings.redis_url and settings.worker.broker_url is not None
    assert settings.llm.base_urls and settings.telemetry.prices and settings.llm.budgets


def test_a_wrong_default_in_the_file_is_caught(tmp_path: Path) -> None:
    changed = tmp_path / "changed.toml"
    changed.write_text(SETTINGS_TOML.read_text().replace("ttl_s = 3600", "ttl_s = 3601"))
    assert load_settings(changed) != Settings()


def test_a_bad_example_fails_loudly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(settings_file().examples.replace("redis://127.0.0.1:6379/0", "http://x"))
    with pytest.raises(ConfigError, match="redis.url"):
        load_settings(bad)


def test_tables_are_known() -> None:
    assert table_options() == {
        "llm.api_keys", "llm.base_urls", "llm.budgets", "llm.custom_providers", "telemetry.prices",
    }  # fmt: skip
