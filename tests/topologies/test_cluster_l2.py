"""RedisClusterL2 passes the L2 contract on a real 3-primary cluster, and clears every primary."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from llmix_workers.cache.backend import MISS
from llmix_workers.cache.backends.redis_cluster import RedisClusterL2
from llmix_workers.errors import L2Unavailable
from llmix_workers.settings import RedisSettings
from llmix_workers.testing.l2_contract import L2BackendContract
from llmix_workers.testing.redis_cluster import PrivateCluster
from llmix_workers.testing.redis_server import free_port
from llmix_workers.wiring.cache import l2_options

pytestmark = pytest.mark.slow


class TestRedisClusterL2(L2BackendContract):
    @pytest.fixture
    def backend(self, cluster_url: str) -> Iterator[RedisClusterL2]:
        backend = RedisClusterL2(cluster_url, **l2_options(RedisSettings()))
        yield backend
        backend.close()

    def advance(self, backend: RedisClusterL2, seconds: float) -> None:
        time.sleep(seconds)


def test_entries_spread_over_every_primary_and_a_clear_empties_each(
    cluster: PrivateCluster, cluster_url: str
) -> None:
    backend = RedisClusterL2(cluster_url, **l2_options(RedisSettings()))
    for index in range(300):
        backend.set(f"llmix:resp:v2:{index:064x}", b'{"data":"x","cached_at":1}', 60)
    backend.set("llmix:fleet:{llmix:resp:v2:}:generation", b"7", 60)
    per_node = [redis.Redis(port=node.port).dbsize() for node in cluster.nodes]
    assert all(count > 0 for count in per_node) and sum(per_node) == 301
    assert backend.count_entries("llmix:resp:v2:") == 300
    keys = [f"llmix:resp:v2:{index:064x}" for index in (0, 299, 7)]
    assert (
        backend.get_many([*keys, "llmix:resp:v2:absent"])[:3] == [b'{"data":"x","cached_at":1}'] * 3
    )
    assert backend.get_many(["llmix:resp:v2:absent"]) == [MISS]
    assert backend.delete_entries("llmix:resp:v2:", 50) == 300
    assert [redis.Redis(port=node.port).dbsize() for node in cluster.nodes].count(0) == 2
    assert backend.get("llmix:fleet:{llmix:resp:v2:}:generation") == b"7"  # not under the prefix
    backend.close()


def test_a_primary_down_fails_the_clear_instead_of_half_clearing(
    cluster: PrivateCluster, cluster_url: str
) -> None:
    backend = RedisClusterL2(
        cluster_url, **l2_options(RedisSettings(socket_timeout_s=0.5, connect_timeout_s=0.5))
    )
    for index in range(30):
        backend.set(f"llmix:resp:v2:{index:064x}", b"v", 60)
    victim = cluster.nodes[1]
    victim.pause()
    try:
        with pytest.raises(L2Unavailable, match="Redis Cluster"):
            backend.delete_entries("llmix:resp:v2:", 10)
    finally:
        victim.resume()
    backend.close()


def test_an_unreachable_cluster_is_an_outage_not_a_crash() -> None:
    backend = RedisClusterL2(
        f"redis+cluster://127.0.0.1:{free_port()}",
        **l2_options(RedisSettings(connect_timeout_s=0.2)),
    )
    with pytest.raises(L2Unavailable, match="unreachable"):
        backend.get("llmix:resp:v2:x")
    with pytest.raises(L2Unavailable):
        backend.set("llmix:resp:v2:x", b"v", 60)
    with pytest.raises(L2Unavailable):
        backend.get_many(["llmix:resp:v2:x"])
    backend.close()
