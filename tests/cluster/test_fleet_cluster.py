"""L2 and fleet state on a Redis Cluster, with real worker nodes (threads and prefork).

The broker and result backend stay on the fleet's private standalone Redis (Celery has no
cluster transport); L2 entries spread over the cluster's slots, fleet keys share one hash tag.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from llmix_workers.fleet.control import FleetControl
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.producer import CompletionProducer
from llmix_workers.settings import Settings
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.testing.redis_cluster import PrivateCluster
from llmix_workers.wiring.fleet import build_fleet_control
from tests.celery.jobs import calls_for, request

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

NODES = {"t1@llmix", "t2@llmix", "p3@llmix"}


@pytest.fixture(scope="module")
def fleet(cluster: PrivateCluster) -> Iterator[LocalFleet]:
    cluster.flush()
    with LocalFleet() as local:
        local.worker_env.update(
            LLMIX_REDIS__URL=cluster.url,
            LLMIX_WORKER__BROKER_URL=local.redis_url,
            LLMIX_WORKER__RESULT_BACKEND=local.redis_url,
            LLMIX_FLEET__SYNC_INTERVAL_S="0.5",
            LLMIX_FLEET__LEASE_S="1.5",
            LLMIX_FLEET__MEMBER_TTL_S="3",
            LLMIX_FLEET__LOCK_TTL_S="2",
            LLMIX_WORKER__PREFETCH_MULTIPLIER="1",
            LLMIX_LLM__TIMEOUT_S="20",
        )
        local.add_worker("t1", queues="llmix,t1", concurrency=8)
        local.add_worker("t2", queues="llmix,t2", concurrency=8)
        local.add_worker("p3", queues="llmix,p3", pool="prefork", concurrency=2)
        yield local


@pytest.fixture(scope="module")
def settings(fleet: LocalFleet, cluster: PrivateCluster) -> Settings:
    return fleet.settings(
        redis={"url": cluster.url},
        worker={"broker_url": fleet.redis_url, "result_backend": fleet.redis_url},
        fleet={"lease_s": 1.5, "member_ttl_s": 3},
    )


@pytest.fixture(scope="module")
def producer(settings: Settings) -> CompletionProducer:
    return CompletionProducer(settings)


@pytest.fixture
def control(settings: Settings, fleet: LocalFleet) -> Iterator[FleetControl]:
    assert fleet.stub is not None
    fleet.stub.reset()
    control = build_fleet_control(settings)
    yield control
    control.close()


def keys_per_node(cluster: PrivateCluster, pattern: str) -> list[int]:
    counts = []
    for node in cluster.nodes:
        client = redis.Redis(port=node.port)
        counts.append(len(list(client.scan_iter(pattern))))
        client.close()
    return counts


def test_fleet_keys_live_on_one_node_and_entries_on_several(
    fleet: LocalFleet, producer: CompletionProducer, cluster: PrivateCluster
) -> None:
    for n in range(12):
        producer.complete(request(f"Spread {n}."), queue="t1")
    assert sum(1 for count in keys_per_node(cluster, "llmix:resp:v2:*") if count) >= 2
    fleet_keys = keys_per_node(cluster, FleetKeys.for_prefix("llmix:resp:v2:").root + "*")
    assert fleet_keys.count(0) == 2 and max(fleet_keys) >= 1  # the members set, one slot


def test_a_clear_on_the_cluster_is_acknowledged_by_every_process(
    fleet: LocalFleet, control: FleetControl, producer: CompletionProducer, cluster: PrivateCluster
) -> None:
    req = request("Cleared on a cluster.")
    for queue in ("t1", "t2", "p3", "p3", "p3", "p3", "p3", "p3"):
        producer.complete(req, queue=queue)
    report = control.clear(timeout_s=10)
    assert report.complete, report
    processes = {row["node"]: row["processes"] for row in report.nodes()}
    assert processes == {"t1@llmix": 1, "t2@llmix": 1, "p3@llmix": 2}
    assert all(row["dropped"] >= 1 for row in report.nodes())
    assert report.l2_deleted >= 1 and sum(keys_per_node(cluster, "llmix:resp:v2:*")) == 0
    kinds = [producer.complete(req, queue=queue)["cacheHit"] for queue in ("t1", "t2", "p3")]
    assert kinds == [None, "l2", "l2"]
    assert calls_for(fleet, req) == 2


def test_fifty_identical_new_requests_make_one_provider_call(
    fleet: LocalFleet, control: FleetControl, producer: CompletionProducer
) -> None:
    req = request("[[stub:slow=800]] Everyone wants this, on a cluster.")
    queues = ["t1", "t2", "p3"]
    ids = [producer.submit(req, queue=queues[n % 3]) for n in range(50)]
    outputs = [producer.app.AsyncResult(task_id).get(timeout=120) for task_id in ids]
    assert calls_for(fleet, req) == 1
    assert {o["worker"] for o in outputs} == NODES
    own_calls = [o for o in outputs if o["cacheHit"] is None and not o["coalesced"]]
    assert len(own_calls) == 1
    fleet_waits = {o["worker"] for o in outputs if o["coalesced"] and o["cacheHit"] == "l2"}
    assert fleet_waits == NODES - {own_calls[0]["worker"]}
