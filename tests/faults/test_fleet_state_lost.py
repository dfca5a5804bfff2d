"""Fleet state lost with Redis's data: the fleet Redis restarted empty under real workers.

Three Redis servers: broker/results (the LocalFleet's), L2, and fleet state (no persistence,
the one restarted). L2 survives, so a worker that dropped its L1 answers from L2.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from docgen.reliability import ScenarioRecord
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.producer import CompletionProducer
from llmix_workers.settings import Settings
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.wiring.fleet import build_fleet_control
from tests.celery.jobs import calls_for, request
from tests.faults.conftest import Record
from tests.faults.support import FAST_ENV, split_env, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PrivateRedis, PrivateRedis]]:
    with PrivateRedis() as l2, PrivateRedis() as fleet_state:
        yield l2, fleet_state


@pytest.fixture(scope="module")
def fleet(servers: tuple[PrivateRedis, PrivateRedis]) -> Iterator[LocalFleet]:
    l2, fleet_state = servers
    with LocalFleet(worker_env=FAST_ENV) as local:
        local.worker_env.update(split_env(local.redis_url, l2.url, fleet_state.url))
        yield local


@pytest.fixture(scope="module")
def nodes(fleet: LocalFleet) -> list[LocalWorker]:
    return [fleet.add_worker(name, queues=f"llmix,{name}", concurrency=4) for name in ("f1", "f2")]


@pytest.fixture(scope="module")
def settings(fleet: LocalFleet, servers: tuple[PrivateRedis, PrivateRedis]) -> Settings:
    l2, fleet_state = servers
    broker = fleet.redis_url
    return fleet.settings(
        redis={"url": l2.url},
        worker={"broker_url": broker, "result_backend": broker},
        fleet={
            "redis_url": fleet_state.url,
            "sync_interval_s": 0.5,
            "lease_s": 1.5,
            "member_ttl_s": 3,
        },
    )


def members(url: str, settings: Settings) -> set[str]:
    client: Any = redis.Redis.from_url(url, decode_responses=True)
    try:
        names = client.zrange(FleetKeys.for_prefix(settings.cache.key_prefix).members, 0, -1)
        return {name.split("|")[0] for name in names}
    finally:
        client.close()


def test_fleet_state_lost_under_real_workers(
    fleet: LocalFleet,
    nodes: list[LocalWorker],
    settings: Settings,
    servers: tuple[PrivateRedis, PrivateRedis],
    record: Record,
) -> None:
    _, fleet_state = servers
    producer = CompletionProducer(settings)
    hostnames = {node.hostname for node in nodes}
    req = request("Remember me.")
    assert producer.complete(req, queue="f1")["cacheHit"] is None
    assert producer.complete(req, queue="f1")["cacheHit"] == "l1"

    fleet_state.kill()
    fleet_state.start()  # empty: generation, flag, members and epoch are gone
    wait_for(lambda: members(fleet_state.url, settings) >= hostnames, 60,
             "both nodes re-registered")  # fmt: skip
    after_loss = producer.complete(req, queue="f1")

    fleet_state.kill()
    fleet_state.start()
    control = build_fleet_control(settings)
    try:
        # issued at once, before anyone re-registered; it completes once both have answered
        report = control.clear(timeout_s=60)
    finally:
        control.close()
    acked = {node["node"] for node in report.nodes()}
    after_clear = producer.complete(req, queue="f2")

    # The loss is a clear for this fleet: L1 dropped on noticing it, and the L2 entry carries the
    # lost epoch's stamp, which no generation of the new state can be ordered against.
    assert after_loss["cacheHit"] is None
    assert report.complete, report.as_json()
    assert acked >= hostnames, report.as_json()  # complete only after hearing from both
    assert after_clear["cacheHit"] is None and calls_for(fleet, req) == 3
    record(
        ScenarioRecord(
            name="fleet state lost (fleet Redis restarted empty)",
            family="Fleet state",
            injected="SIGKILL + empty restart of the Redis holding fleet state, twice, under two "
            "threads nodes; a fleet clear sent right after the second restart",
            promise="workers notice, drop L1 and re-register; entries of the lost state are "
            "not served (the loss counts as a clear); a clear in that window reports complete "
            "only with every live node's acknowledgement",
            figures={
                "submitted": 4,
                "completed": 4,
                "failed": 0,
                "lost": 0,
                "provider_calls": calls_for(fleet, req),
                "duplicated_calls": 1,
            },  # fmt: skip
            notes={
                "first job after the loss": f"cacheHit={after_loss['cacheHit']} (L1 dropped, old-epoch L2 entry skipped)",
                "clear after the loss": f"complete={report.complete}, acked nodes "
                f"{sorted(acked)}, acknowledgements in {report.ack_s:.2f} s",
            },
        )
    )
