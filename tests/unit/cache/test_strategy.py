from __future__ import annotations

import logging

import pytest

from llmix_workers import (
    ConfigError,
    is_response_cache_strategy,
    resolve_response_cache_strategy,
    should_skip_cache,
)


@pytest.mark.parametrize("strategy", ["redis", "redis-or-memory", "memory"])
def test_response_cache_strategies(strategy: str) -> None:
    assert is_response_cache_strategy(strategy)
    assert not should_skip_cache(strategy)


@pytest.mark.parametrize("strategy", ["native", "gateway", "disabled"])
def test_skip_strategies(strategy: str) -> None:
    assert should_skip_cache(strategy)
    assert not is_response_cache_strategy(strategy)
    assert resolve_response_cache_strategy(strategy, "redis://x") is None


def test_redis_without_url_raises_the_llmix_message() -> None:
    with pytest.raises(ValueError) as info:
        resolve_response_cache_strategy("redis", None)
    assert str(info.value) == 'Response cache strategy "redis" requires REDIS_URL to be set.'
    assert isinstance(info.value, ConfigError)


def test_redis_or_memory_degrades_without_url(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert resolve_response_cache_strategy("redis-or-memory", "") == "memory"
    assert "L1 only" in caplog.text
    assert resolve_response_cache_strategy("redis-or-memory", "redis://h") == "redis-or-memory"
    assert resolve_response_cache_strategy("redis", "redis://h") == "redis"
    assert resolve_response_cache_strategy("memory", "redis://h") == "memory"


def test_unknown_strategy_lists_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match=r'unknown response cache strategy "redis-only".*memory'):
        resolve_response_cache_strategy("redis-only", None)
