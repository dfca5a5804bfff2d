"""ThreadConnections on a real Redis: kept per thread or borrowed per call, and what a restart,
an error reply and a dead server do to the pool."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.topology.clients import connection_pool
from llmix_workers.topology.thread_connections import ThreadConnections


@pytest.fixture
def pool(redis_url: str) -> Iterator[redis.ConnectionPool]:
    made = connection_pool(redis_url, socket_timeout_s=2, connect_timeout_s=2, max_connections=8)
    yield made
    made.disconnect()


def in_use(pool: redis.ConnectionPool) -> int:
    return len(pool._in_use_connections)


def test_kept_connections_stay_with_their_thread(pool: redis.ConnectionPool) -> None:
    connections = ThreadConnections(pool)
    assert connections.command("SET", "k", "v") == b"OK"
    assert connections.command("GET", "k") == b"v"
    assert in_use(pool) == 1  # this thread's, kept
    other = threading.Thread(target=lambda: connections.command("PING"))
    other.start()
    other.join(5)
    assert in_use(pool) == 2


def test_borrowed_connections_go_back_after_replies_and_error_replies(
    pool: redis.ConnectionPool,
) -> None:
    connections = ThreadConnections(pool, keep=False)
    assert connections.command("SET", "k", "v") == b"OK"
    assert in_use(pool) == 0
    with pytest.raises(redis.ResponseError):
        connections.command("LPUSH", "k", "x")  # WRONGTYPE
    assert in_use(pool) == 0
    replies = connections.pipeline([("GET", "k"), ("LPUSH", "k", "x"), ("EXISTS", "k")])
    assert replies[0] == b"v" and isinstance(replies[1], redis.ResponseError)
    assert replies[2] == 1
    assert in_use(pool) == 0


@pytest.mark.parametrize("keep", [True, False])
def test_a_restarted_server_costs_no_failed_command(
    redis_server: PrivateRedis, pool: redis.ConnectionPool, keep: bool
) -> None:
    connections = ThreadConnections(pool, keep=keep)
    connections.command("SET", "k", "v")
    redis_server.kill()
    redis_server.start()
    assert connections.command("SET", "k", "again") == b"OK"  # redone on a fresh connection
    assert in_use(pool) == (1 if keep else 0)


@pytest.mark.parametrize("keep", [True, False])
def test_a_dead_server_raises_and_leaks_nothing(
    redis_server: PrivateRedis, pool: redis.ConnectionPool, keep: bool
) -> None:
    connections = ThreadConnections(pool, keep=keep)
    connections.command("PING")
    redis_server.kill()
    for _ in range(3):
        with pytest.raises(redis.ConnectionError):
            connections.command("PING")
        with pytest.raises(redis.ConnectionError):
            connections.pipeline([("PING",)])
    assert in_use(pool) == 0
