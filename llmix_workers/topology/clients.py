"""redis-py clients for a Redis URL of any topology (see :mod:`llmix_workers.topology.url`).

Nothing connects here except :func:`redis_client` for a cluster URL, which asks a seed node for
the slot map (redis-py's ``RedisCluster`` does so when built).
"""

from __future__ import annotations

from typing import Any, cast

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from redis.sentinel import Sentinel, SentinelConnectionPool

from llmix_workers.errors import ConfigError
from llmix_workers.topology.url import RedisTarget, parse_redis_url

#: What a cluster client raises when no node answers (RedisClusterException is no RedisError).
CLUSTER_ERRORS = (redis.RedisError, RedisClusterException, OSError)


def connection_pool(url: str, **kwargs: Any) -> redis.ConnectionPool:
    """A connection pool for a standalone or Sentinel URL; ``kwargs`` go to each connection
    (``socket_timeout``, ``retry``, ``max_connections``…). For Sentinel, every new connection
    asks the sentinels where the primary is, so a failover is followed on reconnect.

    Raises:
        ConfigError: a bad URL, or a cluster URL (a cluster has one pool per node: use
            :func:`redis_client`).
    """
    target = parse_redis_url(url)
    if target.kind == "cluster":
        raise ConfigError(f"{target.redacted}: a Redis Cluster has no single connection pool")
    if target.kind == "standalone":
        return redis.ConnectionPool.from_url(url, **kwargs)
    return SentinelConnectionPool(  # type: ignore[no-untyped-call]
        target.service, _sentinel(target, kwargs), db=target.db, username=target.username,
        password=target.password, ssl=target.tls, is_master=True, **kwargs,
    )  # fmt: skip


def redis_client(
    url: str,
    *,
    socket_timeout_s: float,
    connect_timeout_s: float,
    max_connections: int | None = None,
    **kwargs: Any,
) -> redis.Redis:
    """A redis-py client for ``url``: ``Redis`` on a standalone server or on the Sentinel-managed
    primary, ``RedisCluster`` for a cluster (typed as ``Redis``: it offers the same commands,
    each routed to the node that owns its key's slot).

    Raises:
        ConfigError: a bad URL, or no cluster seed node answered (one line, no credentials).
    """
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout_s,
        "socket_connect_timeout": connect_timeout_s,
        **({"max_connections": max_connections} if max_connections else {}),
        **kwargs,
    }
    target = parse_redis_url(url)
    if target.kind != "cluster":
        return redis.Redis(connection_pool=connection_pool(url, **options))
    return cast(redis.Redis, cluster_client(target, **options))


def cluster_client(target: RedisTarget, **options: Any) -> RedisCluster:
    """A ``RedisCluster`` seeded with the URL's nodes.

    Raises:
        ConfigError: no seed node answered, or the cluster is not ready.
    """
    options.pop("health_check_interval", None)
    try:
        return RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in target.hosts],  # type: ignore[no-untyped-call]
            username=target.username, password=target.password, ssl=target.tls, **options,
        )  # fmt: skip
    except CLUSTER_ERRORS as exc:
        raise ConfigError(f"Redis Cluster {target.redacted} unreachable: {exc}") from None


def _sentinel(target: RedisTarget, options: dict[str, Any]) -> Sentinel:
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": options.get("socket_timeout", 1.0),
        "socket_connect_timeout": options.get("socket_connect_timeout", 1.0),
        "ssl": target.tls,
    }
    if target.query.get("sentinel_password"):
        sentinel_kwargs["password"] = target.query["sentinel_password"]
    return Sentinel(list(target.hosts), sentinel_kwargs=sentinel_kwargs)  # type: ignore[no-untyped-call]


def check_reachable(urls: list[str | None], *, timeout_s: float = 2.0) -> None:
    """Ask each cluster URL among ``urls`` for its slot map once (standalone and Sentinel URLs
    connect lazily and are not probed: an outage there is a cache miss, not a start failure).

    Raises:
        ConfigError: a cluster has no reachable seed node (one line, no credentials).
    """
    for url in dict.fromkeys(u for u in urls if u):
        target = parse_redis_url(url)
        if target.kind == "cluster":
            cluster_client(target, socket_timeout=timeout_s,
                           socket_connect_timeout=timeout_s).close()  # fmt: skip
