"""The fleet's Redis client and the errors that mean "Redis did not answer"."""

from __future__ import annotations

from typing import Final

import redis

from llmix_workers.errors import ConfigError
from llmix_workers.settings import Settings
from llmix_workers.settings.sizing import redis_connections_needed
from llmix_workers.topology.clients import CLUSTER_ERRORS, redis_client

#: What a Redis round trip raises when the server (or a cluster) is down, slow or confused.
REDIS_ERRORS: Final = CLUSTER_ERRORS


def fleet_client(settings: Settings, *, socket_timeout_s: float | None = None) -> redis.Redis:
    """A redis-py client for fleet state (``fleet.redis_url``, else the cache's Redis), of the
    URL's topology (a ``RedisCluster`` for ``redis+cluster://``, the Sentinel primary for
    ``redis+sentinel://``). Its pool holds one connection per task thread of a worker process
    and a few more (every thread may hold the fleet lock's round trip at once).

    Raises:
        ConfigError: no Redis URL is configured at all, or no cluster seed node answered.
    """
    url = settings.fleet_redis_url
    if not url:
        raise ConfigError("fleet coordination needs Redis: set REDIS_URL or fleet.redis_url")
    timeout = settings.redis.socket_timeout_s if socket_timeout_s is None else socket_timeout_s
    return redis_client(
        url,
        socket_timeout_s=timeout,
        connect_timeout_s=settings.redis.connect_timeout_s,
        max_connections=redis_connections_needed(settings.worker),
        health_check_interval=0,
    )
