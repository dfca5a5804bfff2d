"""Every Redis client the one door hands out has the project's retry policy (issue 21, defect 7).

redis-py's defaults retry up to 10 times with backoff on a cluster client and on the clients
that ask the sentinels where the primary is: a dead node multiplied every timeout. Each role's
client (``wiring.redis.redis_for``) and each L2 backend is checked on a real server of each
Redis topology.
"""

from __future__ import annotations

from typing import Any

import pytest
from redis.cluster import RedisCluster
from redis.sentinel import SentinelConnectionPool

from llmix_workers.cache.backends.redis import RedisL2
from llmix_workers.cache.backends.redis_cluster import RedisClusterL2
from llmix_workers.settings import load_settings
from llmix_workers.testing.topology import TopologyServers
from llmix_workers.topology.clients import retry_policy
from llmix_workers.wiring.cache import l2_backend
from llmix_workers.wiring.redis import redis_for

POLICY = retry_policy().get_retries()


def retries(client: Any) -> list[int]:
    """The retry count of ``client`` and of everything it talks through (sentinels, nodes)."""
    if isinstance(client, RedisCluster):
        nodes = client.get_nodes()  # type: ignore[no-untyped-call]
        pools = [node.redis_connection.connection_pool for node in nodes]
        return [client.retry.get_retries(), *(pool_retries(pool) for pool in pools)]
    found = [pool_retries(client.connection_pool)]
    if isinstance(client.connection_pool, SentinelConnectionPool):
        sentinels = client.connection_pool.sentinel_manager.sentinels
        found += [pool_retries(sentinel.connection_pool) for sentinel in sentinels]
    return found


def pool_retries(pool: Any) -> int:
    retry = pool.connection_kwargs.get("retry")
    return 0 if retry is None else int(retry.get_retries())  # redis-py: no retry object, none


@pytest.mark.parametrize("name", ["standalone", "sentinel", "cluster"])
def test_every_role_and_backend_gets_the_retry_policy(
    name: str, llmix_topology_servers: TopologyServers
) -> None:
    topology = llmix_topology_servers.topology(name)
    settings = load_settings(redis={"url": topology.redis_url})
    assert POLICY == 0
    for role in ("cache", "fleet", "control", "budget"):
        client = redis_for(settings, role)
        try:
            assert set(retries(client)) == {POLICY}, role
        finally:
            client.close()
    backend = l2_backend(settings.redis)
    try:
        inner = backend.client if isinstance(backend, RedisL2 | RedisClusterL2) else None
        assert inner is not None and set(retries(inner)) == {POLICY}
    finally:
        backend.close()
