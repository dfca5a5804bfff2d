from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from llmix_workers.cache.backend import MISS
from llmix_workers.cache.backends.redis import RedisL2
from llmix_workers.settings import RedisSettings
from llmix_workers.testing.l2_contract import L2BackendContract
from llmix_workers.wiring.cache import l2_options


class TestRedisL2(L2BackendContract):
    @pytest.fixture
    def backend(self, redis_url: str) -> Iterator[RedisL2]:
        backend = RedisL2(redis_url, **l2_options(RedisSettings()))
        yield backend
        backend.close()

    def advance(self, backend: RedisL2, seconds: float) -> None:
        time.sleep(seconds)


def test_entries_are_plain_redis_strings_with_ex_ttl(redis_url: str) -> None:
    backend = RedisL2(redis_url, **l2_options(RedisSettings()))
    backend.set("llmix:resp:v2:abc", b'{"data":"x","cached_at":1}', 120)
    raw = redis.Redis.from_url(redis_url)
    assert raw.type("llmix:resp:v2:abc") == b"string"
    assert 118 <= raw.ttl("llmix:resp:v2:abc") <= 120
    backend.close()
    raw.close()


def test_a_key_of_another_type_is_a_miss(redis_url: str) -> None:
    raw = redis.Redis.from_url(redis_url)
    raw.rpush("llmix:resp:v2:list", "x")
    backend = RedisL2(redis_url, **l2_options(RedisSettings()))
    assert backend.get("llmix:resp:v2:list") is MISS
    backend.close()
    raw.close()
