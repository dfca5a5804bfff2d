"""Shared fixtures: a private redis-server for the session, flushed around each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from llmix_workers.errors import ConfigError
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.redis_server import PrivateRedis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[PrivateRedis]:
    try:
        server = PrivateRedis().start()
    except ConfigError as exc:
        pytest.fail(f"these tests need a redis-server: {exc}")
    yield server
    server.close()


def ensure_running(server: PrivateRedis) -> None:
    """Bring the server back after a test killed or paused it."""
    if server.pid is None:
        server.start()
        return
    server.resume()
    if not server.ping():
        server.kill()
        server.start()


@pytest.fixture
def redis_url(redis_server: PrivateRedis) -> Iterator[str]:
    """URL of the private Redis, running and empty at the start of the test."""
    ensure_running(redis_server)
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url
    ensure_running(redis_server)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
