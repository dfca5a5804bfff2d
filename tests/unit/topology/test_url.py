"""Redis URLs of every topology: parsed, checked, and refused with one line that hides secrets."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from redis.sentinel import SentinelConnectionPool

from llmix_workers.cache.backends.redis import RedisL2
from llmix_workers.cache.backends.redis_cluster import RedisClusterL2
from llmix_workers.errors import ConfigError
from llmix_workers.settings import RedisSettings, load_settings
from llmix_workers.topology import connection_pool, parse_redis_url
from llmix_workers.wiring.cache import l2_backend, l2_options


def test_standalone_forms() -> None:
    target = parse_redis_url("rediss://u:p%40ss@cache.example:6380/4")
    assert (target.kind, target.tls, target.hosts, target.db) == (
        "standalone", True, (("cache.example", 6380),), 4,
    )  # fmt: skip
    assert (target.username, target.password) == ("u", "p@ss")
    assert parse_redis_url("redis://h").hosts == (("h", 6379),)
    assert parse_redis_url("unix:///run/redis.sock?db=2").kind == "standalone"


def test_cluster_form_lists_every_seed() -> None:
    target = parse_redis_url("redis+cluster://:secret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002")
    assert target.kind == "cluster" and not target.tls
    assert target.hosts == (("10.0.0.1", 7000), ("10.0.0.2", 7001), ("::1", 7002))
    assert target.password == "secret" and target.db == 0
    assert parse_redis_url("rediss+cluster://h:7000").tls is True
    assert "secret" not in repr(target) and "secret" not in target.redacted


def test_sentinel_form_has_service_and_db() -> None:
    target = parse_redis_url("redis+sentinel://:pw@s1:26379,s2/mymaster/3?sentinel_password=sp")
    assert target.kind == "sentinel"
    assert target.hosts == (("s1", 26379), ("s2", 26379))  # the sentinel port by default
    assert (target.service, target.db, target.password) == ("mymaster", 3, "pw")
    assert target.query == {"sentinel_password": "sp"}
    assert parse_redis_url("rediss+sentinel://s1:26379/svc").tls is True


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://:hunter2@s1:26379", "needs a service name"),
        ("redis+cluster://:hunter2@h:7000/2", "only 0"),
        ("redis://:hunter2@h1:1,h2:2", "names one host"),
        ("redis+cluster://:hunter2@h:port", "not a number"),
        ("redis+cluster://:hunter2@h:70000", "out of range"),
        ("redis+cluster://:hunter2@h:7000,", "empty host"),
        ("redis+sentinel://:hunter2@h/svc/x", "must be a number"),
        ("memcached://:hunter2@h", "must start with one of"),
    ],
)
def test_bad_urls_say_why_without_the_password(url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as info:
        parse_redis_url(url)
    assert "hunter2" not in str(info.value)


def test_settings_accept_every_form_for_every_redis_role() -> None:
    urls: dict[str, Any] = {
        "redis": {"url": "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"},
        "fleet": {"redis_url": "redis+sentinel://127.0.0.1:26379/mymaster/1"},
        "worker": {"broker_url": "rediss+sentinel://127.0.0.1:26379/mymaster",
                   "result_backend": "amqp://guest:guest@127.0.0.1:5672//"},
    }  # fmt: skip
    settings = load_settings(**urls)
    assert settings.redis_url == urls["redis"]["url"]
    assert settings.fleet_redis_url == urls["fleet"]["redis_url"]


def test_a_bad_url_in_settings_is_one_line_naming_the_setting() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(fleet={"redis_url": "redis+sentinel://:hunter2@127.0.0.1:26379"})
    message = str(info.value)
    assert "fleet.redis_url" in message and "service name" in message
    assert "hunter2" not in message


def test_sentinel_pool_asks_the_sentinels_and_connects_to_nothing_yet() -> None:
    pool = connection_pool("redis+sentinel://127.0.0.1:1/mymaster/2", socket_timeout_s=0.1,
                           connect_timeout_s=0.1)  # fmt: skip
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "mymaster" and pool.connection_kwargs["db"] == 2
    backend = RedisL2("redis+sentinel://127.0.0.1:1/mymaster", **l2_options(RedisSettings()))
    assert isinstance(backend._pool, SentinelConnectionPool)
    backend.close()
    standalone = connection_pool("redis://127.0.0.1:1/0", socket_timeout_s=1, connect_timeout_s=1)
    assert type(standalone) is redis.ConnectionPool


def test_l2_from_settings_picks_the_backend_of_the_topology() -> None:
    cluster = load_settings(redis={"url": "redis+cluster://127.0.0.1:1"}).redis
    standalone = load_settings(redis={"url": "redis://127.0.0.1:1"}).redis
    assert isinstance(l2_backend(cluster), RedisClusterL2)  # nothing connects yet
    assert isinstance(l2_backend(standalone), RedisL2)
    with pytest.raises(ConfigError, match="connection pool"):
        connection_pool("redis+cluster://127.0.0.1:1", socket_timeout_s=1, connect_timeout_s=1)


def test_redis_url_from_the_environment_may_name_any_topology(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/svc/2")
    settings = load_settings()
    assert settings.redis_url == "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/svc/2"
    assert settings.broker_url == settings.redis_url  # translated by create_app, not here
    monkeypatch.setenv("REDIS_URL", "redis+cluster://:hunter2@127.0.0.1:7000/5")
    with pytest.raises(ConfigError, match="environment variable REDIS_URL") as info:
        load_settings()
    assert "hunter2" not in str(info.value)
