"""The fleet suite (:mod:`tests.topologies.fleet_suite`) on the cluster topology: L2 and fleet
state on a 3-primary Redis Cluster, the broker and results on a standalone Redis (Celery has no
cluster transport). Beyond the suite: L2 entries spread over the cluster's slots, while the fleet
keys share one hash tag (one slot, one node)."""

from __future__ import annotations

from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.testing.redis_cluster import PrivateCluster
from llmix_workers.testing.redis_server import local_client
from llmix_workers.testing.topology import TopologyServers
from tests.celery.jobs import request
from tests.topologies.fleet_suite import *  # noqa: F403

TOPOLOGY = "cluster"


def keys_per_node(cluster: PrivateCluster, pattern: str) -> list[int]:
    counts = []
    for node in cluster.nodes:
        client = local_client(node.port, timeout_s=5)
        counts.append(len(list(client.scan_iter(pattern))))
        client.close()
    return counts


def test_fleet_keys_live_on_one_node_and_entries_on_several(
    fleet: LocalFleet, producer: CompletionProducer, llmix_topology_servers: TopologyServers
) -> None:
    for n in range(12):
        producer.complete(request(f"Spread {n}."), queue="w1")
    cluster = llmix_topology_servers.cluster()
    assert sum(1 for count in keys_per_node(cluster, "llmix:resp:v2:*") if count) >= 2
    fleet_keys = keys_per_node(cluster, FleetKeys.for_prefix("llmix:resp:v2:").root + "*")
    assert fleet_keys.count(0) == 2 and max(fleet_keys) >= 1  # the members set, one slot
