"""Pool sizes follow the worker's concurrency unless set; a starving size is refused at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from llmix_workers.cli import main
from llmix_workers.errors import ConfigError
from llmix_workers.llm.factory import build_llm_client
from llmix_workers.settings import LLMSettings, load_settings
from llmix_workers.settings.sections import REDIS_SPARE_CONNECTIONS
from llmix_workers.settings.sizing import check_pool_sizes, sized_llm, sized_redis
from llmix_workers.worker.app import create_app

URL = "redis://127.0.0.1:1/0"


def test_unset_sizes_follow_a_threads_node() -> None:
    settings = load_settings(worker={"concurrency": 256, "pool": "threads"})
    assert sized_redis(settings.redis, settings.worker).max_connections == 256 + 8
    llm = sized_llm(settings.llm, settings.worker)
    assert (llm.max_connections, llm.concurrency_initial) == (256, 256)
    check_pool_sizes(settings.redis, settings.llm, settings.worker)


def test_unset_sizes_follow_a_prefork_child() -> None:
    settings = load_settings(worker={"concurrency": 8, "pool": "prefork"})
    assert sized_redis(settings.redis, settings.worker).max_connections == 1 + 8
    llm = sized_llm(settings.llm, settings.worker)
    assert (llm.max_connections, llm.concurrency_initial) == (1, 4)  # never below the floor


def test_set_sizes_win_and_a_low_window_is_allowed() -> None:
    settings = load_settings(
        worker={"concurrency": 100},
        redis={"max_connections": 500},
        llm={"max_connections": 300, "concurrency_initial": 10},
    )
    check_pool_sizes(settings.redis, settings.llm, settings.worker)
    assert sized_redis(settings.redis, settings.worker).max_connections == 500
    llm = sized_llm(settings.llm, settings.worker)
    assert (llm.max_connections, llm.concurrency_initial) == (300, 10)


def test_the_aimd_window_of_a_node_is_its_threads_not_32() -> None:
    """Issue 19: the window's ceiling (32) capped a node of 200 threads at 32 calls."""
    client = build_llm_client(load_settings(worker={"concurrency": 200}))
    try:
        assert client.limiter("openai").window == 200
        assert client.limiter("openai").initial == 200
    finally:
        client.close()


@pytest.mark.parametrize(
    ("section", "value", "needed"),
    [("redis", 64, 200 + REDIS_SPARE_CONNECTIONS), ("llm", 100, 200)],
)
def test_a_starving_pool_is_refused_in_one_line_naming_both_settings(
    section: str, value: int, needed: int
) -> None:
    overrides: dict[str, Any] = {section: {"max_connections": value}}
    settings = load_settings(worker={"concurrency": 200}, **overrides)
    with pytest.raises(ConfigError) as raised:
        check_pool_sizes(settings.redis, settings.llm, settings.worker)
    message = str(raised.value)
    assert "\n" not in message
    assert f"{section}.max_connections ({value})" in message
    assert "worker.concurrency (200, threads pool)" in message
    assert str(needed) in message


def test_the_worker_command_refuses_a_starving_pool_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "settings.toml").write_text("[redis]\nmax_connections = 64\n")
    monkeypatch.setenv("LLMIX_REDIS__URL", URL)
    result = CliRunner().invoke(
        main, ["--settings", str(tmp_path / "settings.toml"), "worker", "-c", "200"]
    )
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "redis.max_connections (64)" in lines[0]
    assert "worker.concurrency (200" in lines[0]


def test_celery_pools_follow_the_concurrency() -> None:
    app = create_app(load_settings(redis={"url": URL}, worker={"concurrency": 1024}))
    assert app.conf.broker_transport_options["max_connections"] == 1024 + 8
    assert app.conf.redis_max_connections == 1024 + 8


def test_concurrency_goes_up_to_1024() -> None:
    assert load_settings(worker={"concurrency": 1024}).worker.concurrency == 1024
    with pytest.raises(ConfigError, match="worker.concurrency"):
        load_settings(worker={"concurrency": 1025})


def test_a_bare_llm_section_follows_the_default_worker() -> None:
    llm = sized_llm(LLMSettings())
    assert llm.max_connections == llm.concurrency_initial == 16


def test_the_open_files_limit_is_raised_to_what_the_threads_need() -> None:
    import resource

    from llmix_workers.worker.limits import files_needed, raise_open_files_limit

    settings = load_settings(worker={"concurrency": 1024})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
        in_force = raise_open_files_limit(settings)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == in_force
        assert in_force == min(files_needed(settings), hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_settings_command_shows_the_sizes_in_effect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "settings.toml").write_text("[worker]\nconcurrency = 256\n")
    result = CliRunner().invoke(main, ["--settings", str(tmp_path / "settings.toml"), "settings"])
    assert result.exit_code == 0
    assert '"max_connections": 264' in result.output
    assert '"max_connections": 256' in result.output
    assert '"concurrency_initial": 256' in result.output
