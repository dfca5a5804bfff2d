from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from llmix_workers import ConfigError, load_settings
from llmix_workers.settings import FleetSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("REDIS_URL", "LLMIX_REDIS__URL", "LLMIX_SETTINGS", "LLMIX_CACHE__TTL_S"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    return path


def test_defaults_without_any_file() -> None:
    settings = load_settings()
    assert settings.cache.ttl_s == 3600
    assert settings.cache.key_prefix == "llmix:resp:v2:"
    assert settings.cache.l1_max_entries == 1000
    assert settings.redis_url is None
    assert settings.fleet.sync_interval_s == 1.0


def test_precedence_defaults_file_env_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "[cache]\nttl_s = 10\nl1_max_entries = 5\nkey_prefix = 'file:'\n")
    assert load_settings().cache.ttl_s == 10
    monkeypatch.setenv("LLMIX_CACHE__TTL_S", "20")
    settings = load_settings()
    assert (settings.cache.ttl_s, settings.cache.l1_max_entries) == (20, 5)
    settings = load_settings(cache={"ttl_s": 30})
    assert (settings.cache.ttl_s, settings.cache.key_prefix) == (30, "file:")


def test_llmix_settings_names_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[cache]\nttl_s = 77\n")
    monkeypatch.setenv("LLMIX_SETTINGS", str(other))
    assert load_settings().cache.ttl_s == 77
    assert load_settings(settings_file=other).cache.ttl_s == 77


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(settings_file=tmp_path / "nope.toml")


def test_redis_url_is_honoured_below_the_prefixed_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@a:6379/0")
    settings = load_settings()
    assert settings.redis_url == "redis://:hunter2@a:6379/0"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    monkeypatch.setenv("LLMIX_REDIS__URL", "redis://b:6379/1")
    assert load_settings().redis_url == "redis://b:6379/1"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("file", "cache.ttl_s: Input should be greater than or equal to 1 (from settings file"),
        ("env", "cache.ttl_s: Input should be a valid integer"),
        (
            "arg",
            "cache.ttl_s: Input should be greater than or equal to 1 (from argument cache.ttl_s)",
        ),
    ],
)
def test_bad_value_names_setting_source_and_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: str
) -> None:
    write(tmp_path, "[cache]\nttl_s = 0\n" if source == "file" else "")
    if source == "env":
        monkeypatch.setenv("LLMIX_CACHE__TTL_S", "soon")
    overrides: dict[str, Any] = {"cache": {"ttl_s": -1}} if source == "arg" else {}
    with pytest.raises(ConfigError) as info:
        load_settings(**overrides)
    assert expected in str(info.value)
    if source == "env":
        assert "(from environment variable LLMIX_CACHE__TTL_S)" in str(info.value)


def test_unknown_setting_and_strategy_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "[cache]\nttl = 5\nstrategy = 'redis-only'\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "cache.ttl: Extra inputs are not permitted" in message
    assert "cache.strategy: Input should be 'redis', 'redis-or-memory', 'memory'" in message


def test_bad_redis_url_does_not_echo_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "http://:hunter2@a:6379/0")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "redis.url" in str(info.value) and "environment variable REDIS_URL" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[cache\n")
    with pytest.raises(ConfigError, match=f"settings file {path} is not valid TOML"):
        load_settings()


@pytest.mark.parametrize(
    ("fleet", "field", "words"),
    [
        ({"sync_interval_s": 2.0, "lease_s": 2.0}, "fleet.lease_s", "must exceed sync_interval_s"),
        ({"lease_s": 3.0, "member_ttl_s": 3.2}, "fleet.member_ttl_s", "lease_s × 1.1"),
    ],
)
def test_fleet_timings_that_break_the_lease_are_refused_naming_the_field(
    fleet: dict[str, float], field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        FleetSettings(**fleet)
    text = str(raised.value)
    assert field.split(".")[1] in text and words in text


def test_default_fleet_timings_keep_the_lease_inside_the_membership() -> None:
    fleet = FleetSettings()
    assert fleet.sync_interval_s < fleet.lease_s
    assert fleet.lease_s * 1.1 <= fleet.member_ttl_s < fleet.clear_timeout_s
