"""The one door to Redis: redis-py clients and pools for a Redis URL of any topology.

Every connection the package opens to Redis (L2, fleet state, locks, readiness probes, the CLI's
checks, budgets) is built here, from a URL of any form :mod:`llmix_workers.topology.url` accepts,
with the project's retry policy (:func:`retry_policy`) on every client, the Sentinel and Cluster
ones included. ``tests/unit/test_layers.py`` fails on any other ``from_url`` or pool in the
package.

Nothing connects here except :func:`redis_client` and :func:`cluster_client` for a cluster URL,
which ask a seed node for the slot map (redis-py's ``RedisCluster`` does so when built).
"""

from __future__ import annotations

from typing import Any, Final, cast

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from llmix_workers.errors import ConfigError
from llmix_workers.topology.url import RedisTarget, parse_redis_url

#: What a Redis round trip raises when the server (or a cluster) is down, slow or confused
#: (``RedisClusterException`` is no ``RedisError``).
REDIS_ERRORS: Final = (redis.RedisError, RedisClusterException, OSError)
CLUSTER_ERRORS: Final = REDIS_ERRORS


def retry_policy() -> Retry:
    """The retry policy of every client: none. A dead or hung server costs one timeout, then the
    caller decides (L2 degrades to a miss, the fleet lock is skipped, a member keeps its lease
    until it runs out). redis-py's defaults would retry up to 10 times with backoff, multiplying
    every timeout; a cluster client still follows ``MOVED`` replies and re-reads the slot map
    on the command after a failed one."""
    return Retry(NoBackoff(), 0)


def connection_pool(
    url: str,
    *,
    socket_timeout_s: float,
    connect_timeout_s: float,
    max_connections: int | None = None,
    protocol: int | None = None,
    decode_responses: bool = False,
) -> redis.ConnectionPool:
    """A connection pool for a standalone or Sentinel URL, with :func:`retry_policy`. For
    Sentinel, every new connection asks the sentinels where the primary is, so a failover is
    followed on reconnect.

    Raises:
        ConfigError: a bad URL, or a cluster URL (a cluster has one pool per node: use
            :func:`redis_client`).
    """
    target = parse_redis_url(url)
    if target.kind == "cluster":
        raise ConfigError(f"{target.redacted}: a Redis Cluster has no single connection pool")
    options = _options(socket_timeout_s, connect_timeout_s, max_connections, protocol,
                       decode_responses)  # fmt: skip
    if target.kind == "standalone":
        return redis.ConnectionPool.from_url(url, **options)
    return SentinelConnectionPool(  # type: ignore[no-untyped-call]
        target.service, _sentinel(target, options), db=target.db, username=target.username,
        password=target.password, ssl=target.tls, is_master=True, **options,
    )  # fmt: skip


def pooled_client(pool: redis.ConnectionPool) -> redis.Redis:
    """A client on ``pool`` (built by :func:`connection_pool`), for a caller that also uses the
    pool's connections directly. The client owns the pool: its ``close()`` disconnects every
    connection of it (``Redis(connection_pool=...)`` would leave them open)."""
    return redis.Redis.from_pool(pool)


def redis_client(
    url: str,
    *,
    socket_timeout_s: float,
    connect_timeout_s: float,
    max_connections: int | None = None,
    protocol: int | None = None,
    decode_responses: bool = False,
) -> redis.Redis:
    """A redis-py client for ``url``: ``Redis`` on a standalone server or on the Sentinel-managed
    primary, ``RedisCluster`` for a cluster (typed as ``Redis``: it offers the same commands,
    each routed to the node that owns its key's slot). Every client has :func:`retry_policy`.

    Raises:
        ConfigError: a bad URL, or no cluster seed node answered (one line, no credentials).
    """
    target = parse_redis_url(url)
    if target.kind == "cluster":
        return cast(redis.Redis, cluster_client(
            target, socket_timeout_s=socket_timeout_s, connect_timeout_s=connect_timeout_s,
            max_connections=max_connections, protocol=protocol,
            decode_responses=decode_responses,
        ))  # fmt: skip
    pool = connection_pool(url, socket_timeout_s=socket_timeout_s,
                           connect_timeout_s=connect_timeout_s, max_connections=max_connections,
                           protocol=protocol, decode_responses=decode_responses)  # fmt: skip
    return pooled_client(pool)


def cluster_client(
    target: RedisTarget,
    *,
    socket_timeout_s: float,
    connect_timeout_s: float,
    max_connections: int | None = None,
    protocol: int | None = None,
    decode_responses: bool = False,
) -> RedisCluster:
    """A ``RedisCluster`` seeded with the URL's nodes, with :func:`retry_policy`.

    Raises:
        ConfigError: no seed node answered, or the cluster is not ready.
    """
    options = _options(socket_timeout_s, connect_timeout_s, max_connections, protocol,
                       decode_responses)  # fmt: skip
    options.pop("health_check_interval")
    retry = options.pop("retry")
    try:
        return RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in target.hosts],  # type: ignore[no-untyped-call]
            username=target.username, password=target.password, ssl=target.tls, retry=retry,
            **options,
        )  # fmt: skip
    except REDIS_ERRORS as exc:
        raise ConfigError(f"Redis Cluster {target.redacted} unreachable: {exc}") from None


def ping(url: str, *, timeout_s: float) -> None:
    """One ``PING`` to the Redis ``url`` names (a cluster: its slot map, then every primary),
    within ``timeout_s`` for each step.

    Raises:
        ConfigError: a bad URL, or a cluster without a reachable seed node.
        redis.RedisError, OSError: the server did not answer or refused the credentials
            (``redis.AuthenticationError``); the message may hold the URL's host, never its
            password.
    """
    client = redis_client(url, socket_timeout_s=timeout_s, connect_timeout_s=timeout_s)
    try:
        client.ping()
    finally:
        client.close()


def check_reachable(urls: list[str | None], *, timeout_s: float) -> None:
    """Ask each cluster URL among ``urls`` for its slot map once (standalone and Sentinel URLs
    connect lazily and are not probed: an outage there is a cache miss, not a start failure).

    Raises:
        ConfigError: a cluster has no reachable seed node (one line, no credentials).
    """
    for url in dict.fromkeys(u for u in urls if u):
        target = parse_redis_url(url)
        if target.kind == "cluster":
            cluster_client(target, socket_timeout_s=timeout_s,
                           connect_timeout_s=timeout_s).close()  # fmt: skip


def _options(
    socket_timeout_s: float,
    connect_timeout_s: float,
    max_connections: int | None,
    protocol: int | None,
    decode_responses: bool,
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout_s,
        "socket_connect_timeout": connect_timeout_s,
        "retry": retry_policy(),
        "health_check_interval": 0,
    }
    if max_connections:
        options["max_connections"] = max_connections
    if protocol is not None:
        options["protocol"] = protocol
    if decode_responses:
        options["decode_responses"] = True
    return options


def _sentinel(target: RedisTarget, options: dict[str, Any]) -> Sentinel:
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": options["socket_timeout"],
        "socket_connect_timeout": options["socket_connect_timeout"],
        "retry": retry_policy(),
        "ssl": target.tls,
    }
    if target.query.get("sentinel_password"):
        sentinel_kwargs["password"] = target.query["sentinel_password"]
    return Sentinel(list(target.hosts), sentinel_kwargs=sentinel_kwargs)  # type: ignore[no-untyped-call, unused-ignore]
