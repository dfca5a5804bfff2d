"""A closed client closes its connections: every Redis client the project builds owns its pool,
so ``close()`` disconnects what it opened instead of leaving sockets for the garbage collector."""

from __future__ import annotations

from typing import get_args

import pytest

from llmix_workers.settings import load_settings
from llmix_workers.wiring.cache import build_response_cache
from llmix_workers.wiring.redis import RedisRole, redis_for
from tests.sockets import connections_to


@pytest.mark.parametrize("role", get_args(RedisRole))
def test_a_closed_role_client_leaves_no_connection_open(redis_url: str, role: RedisRole) -> None:
    settings = load_settings(redis={"url": redis_url}, worker={"concurrency": 4})
    before = connections_to(redis_url)
    client = redis_for(settings, role)
    pool = client.connection_pool
    held = [pool.get_connection() for _ in range(4)]  # as four task threads at once would
    for connection in held:
        pool.release(connection)
    assert client.ping()
    assert len(connections_to(redis_url) - before) == 4
    client.close()
    assert connections_to(redis_url) - before == set()


def test_a_closed_response_cache_leaves_no_connection_open(redis_url: str) -> None:
    settings = load_settings(redis={"url": redis_url})
    before = connections_to(redis_url)
    cache = build_response_cache(settings)
    assert cache is not None
    cache.set("llmix:resp:v2:" + "0" * 64, "an answer", ttl_s=60)
    assert cache.get("llmix:resp:v2:" + "0" * 64) is not None
    assert connections_to(redis_url) - before != set()
    cache.close()
    assert connections_to(redis_url) - before == set()
