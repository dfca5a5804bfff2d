"""Every command answers -h and --version; settings files; ``settings`` masks secrets."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from llmix_workers.cli import main
from tests.unit.cli.support import one_line_error, run_cli


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


@pytest.mark.parametrize("path", _commands(main))
def test_every_command_answers_h_and_version(path: tuple[str, ...]) -> None:
    from click.testing import CliRunner

    runner = CliRunner()
    helped = runner.invoke(main, [*path, "-h"])
    assert helped.exit_code == 0, helped.output
    assert "Usage:" in helped.output
    versioned = runner.invoke(main, [*path, "--version"])
    assert versioned.exit_code == 0, versioned.output
    assert "llmix-workers" in versioned.output and "0." in versioned.output


def test_a_missing_settings_file_in_the_environment_is_refused(tmp_path: Path) -> None:
    done = run_cli("settings", env={"LLMIX_SETTINGS": str(tmp_path / "missing.toml")})
    line = one_line_error(done)
    assert "missing.toml" in line and "LLMIX_SETTINGS" in line


def test_settings_shows_urls_in_effect_and_found_keys_masked() -> None:
    key = "sk-test-ABCDEFGHIJKLMNOPQRSTUV-9876"
    done = run_cli(
        "settings",
        env={"REDIS_URL": "redis://127.0.0.1:6379/0", "OPENAI_API_KEY": key,
             "LLMIX_WORKER__RESULT_BACKEND": "redis://:pw-secret@10.0.0.9:6380/1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert key not in done.stdout and "pw-secret" not in done.stdout
    shown = json.loads(done.stdout)
    assert shown["redis"]["url"] == "redis://127.0.0.1:6379/0"
    assert shown["worker"]["broker_url"] == "redis://127.0.0.1:6379/0"
    assert shown["worker"]["result_backend"] == "redis://:****@10.0.0.9:6380/1"
    assert "OPENAI_API_KEY" in shown["llm"]["api_keys"]["openai"]
    assert shown["llm"]["api_keys"]["openai"].endswith("9876 (from OPENAI_API_KEY)")


def test_a_url_without_scheme_is_not_reported_as_a_scheme() -> None:
    done = run_cli("settings", env={"REDIS_URL": "notaurl"})
    line = one_line_error(done) if done.stderr.count("\n") <= 1 else done.stderr
    assert "notaurl://" not in done.stderr
    assert done.returncode == 2 and line
