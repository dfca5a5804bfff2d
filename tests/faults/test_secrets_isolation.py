"""Secrets never leak, and two deployments sharing one Redis never see each other.

One password-protected Redis (``requirepass``) holds broker, results, L2 and fleet state for two
deployments: ``a`` with the default key prefix (``llmix:resp:v2:``) and ``b`` with the Python
bindings' ``llmix:resp:``, which is a prefix of ``a``'s (the case of issue 11 defect 2).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from docgen.reliability import ScenarioRecord
from llmix_workers.cache.backends.patterns import entry_pattern
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from llmix_workers.testing.redis_server import PrivateRedis, free_port
from llmix_workers.wiring.fleet import build_fleet_control
from tests.celery.jobs import calls_for, request
from tests.faults.conftest import Record
from tests.faults.support import FAST_ENV

pytestmark = [pytest.mark.faults, pytest.mark.timeout(150)]

PASSWORD = f"redis-canary-{uuid.uuid4().hex}"
API_KEY = f"sk-canary-{uuid.uuid4().hex}"
PREFIX_A, PREFIX_B = "llmix:resp:v2:", "llmix:resp:"


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateRedis]:
    with PrivateRedis(extra_args=["--requirepass", PASSWORD]) as private:
        yield private


@pytest.fixture(scope="module")
def url(server: PrivateRedis) -> str:
    return f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"


@pytest.fixture(scope="module")
def fleet(url: str) -> Iterator[LocalFleet]:
    with LocalFleet(redis_url=url, worker_env={**FAST_ENV, "OPENAI_API_KEY": API_KEY}) as local:
        yield local


@pytest.fixture(scope="module")
def nodes(fleet: LocalFleet) -> dict[str, LocalWorker]:
    a = fleet.add_worker("a", queues="llmix,a", concurrency=4, metrics_port=free_port())
    fleet.worker_env["LLMIX_CACHE__KEY_PREFIX"] = PREFIX_B
    b = fleet.add_worker("b", queues="b", concurrency=4, metrics_port=free_port())
    del fleet.worker_env["LLMIX_CACHE__KEY_PREFIX"]
    return {"a": a, "b": b}


def cli(fleet: LocalFleet, *args: str) -> str:
    """Run ``llmix-workers`` as a user would, with the fleet's environment; stdout + stderr."""
    env = {**fleet.env(), "LLMIX_SETTINGS": str(fleet.workdir / "settings.toml")}
    done = subprocess.run([sys.executable, "-m", "llmix_workers", *args], env=env, timeout=120,
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout + done.stderr


def redis_dump(url: str) -> bytes:
    """Every key and value of every type in the Redis, as one blob."""
    client: Any = redis.Redis.from_url(url)  # bytes in, bytes out (redis-py types say less)
    blob = bytearray()
    try:
        for key in client.scan_iter(count=1000):
            blob += key
            kind = client.type(key)
            if kind == b"string":
                blob += client.get(key) or b""
            elif kind == b"list":
                blob += b"".join(client.lrange(key, 0, -1))
            elif kind == b"hash":
                blob += b"".join(k + v for k, v in client.hgetall(key).items())
            elif kind == b"set":
                blob += b"".join(client.smembers(key))
            elif kind == b"zset":
                blob += b"".join(client.zrange(key, 0, -1))
    finally:
        client.close()
    return bytes(blob)


def test_two_prefixes_on_one_redis_stay_apart(
    fleet: LocalFleet, nodes: dict[str, LocalWorker], url: str, record: Record
) -> None:
    producer = CompletionProducer(fleet.settings())
    req = request("Shared question.")
    first_a = producer.complete(req, queue="a")
    first_b = producer.complete(req, queue="b")
    client = redis.Redis.from_url(url)
    keys_a = set(client.scan_iter(match=entry_pattern(PREFIX_A)))
    generation_a = client.get(FleetKeys.for_prefix(PREFIX_A).generation)
    members_a = client.zcard(FleetKeys.for_prefix(PREFIX_A).members)
    settings_b = fleet.settings(cache={"key_prefix": PREFIX_B})
    control = build_fleet_control(settings_b)
    try:
        report = control.clear(timeout_s=60)  # every process answers: it returns then
    finally:
        control.close()
    again_a = producer.complete(req, queue="a")

    assert first_a["cacheHit"] is None and first_b["cacheHit"] is None  # never a's entry
    assert calls_for(fleet, req) == 2
    assert report.complete and {n["node"] for n in report.nodes()} == {"b@llmix"}
    assert report.l2_deleted >= 1
    assert set(client.scan_iter(match=entry_pattern(PREFIX_A))) == keys_a and keys_a
    assert client.get(FleetKeys.for_prefix(PREFIX_A).generation) == generation_a
    assert client.zcard(FleetKeys.for_prefix(PREFIX_A).members) == members_a
    assert again_a["cacheHit"] == "l1"  # a's L1 was not dropped by b's clear
    client.close()
    record(
        ScenarioRecord(
            name="two key prefixes on one Redis",
            family="Secrets and isolation",
            injected=f"deployment a ({PREFIX_A}) and b ({PREFIX_B}, a prefix of a's) on one "
            "Redis; the same request on both; a fleet clear of b",
            promise="neither reads the other's entries; b's clear leaves a's entries, "
            "generation, members and L1 intact",
            figures={
                "submitted": 3,
                "completed": 3,
                "failed": 0,
                "lost": 0,
                "provider_calls": 2,
                "duplicated_calls": 0,
            },  # fmt: skip
            notes={
                "a's entries after b's clear": len(keys_a),
                "b's entries deleted": report.l2_deleted,
            },  # fmt: skip
        )
    )


def test_no_secret_in_redis_logs_metrics_or_cli_output(
    fleet: LocalFleet, nodes: dict[str, LocalWorker], url: str, record: Record
) -> None:
    assert fleet.stub is not None
    producer = CompletionProducer(fleet.settings())
    good = producer.run_batch([request(f"Fine {n}.") for n in range(5)], queue="a", timeout_s=60)
    # Last, on b (it retires the key there): the 401 repeats the key, as careless APIs do.
    fleet.stub.script(reject_keys=[API_KEY])
    rejected = producer.run_batch([request("Rejected.")], queue="b", timeout_s=30)[0]
    texts = {
        "CLI enqueue --wait": cli(
            fleet, "enqueue", "Hello from the CLI.", "--wait", "--timeout", "60"
        ),
        "CLI settings": cli(fleet, "settings"),
        "CLI cache stats": cli(fleet, "cache", "stats"),
        "job error": rejected.error or "",
        "metrics pages": "".join(
            httpx.get(f"http://127.0.0.1:{n.metrics_port}/metrics", timeout=5).text
            for n in nodes.values()
        ),
        "worker logs": "".join(n.log() for n in nodes.values()),
    }
    blob = redis_dump(url)

    assert all(o.ok for o in good) and rejected.error is not None
    assert "AuthError" in rejected.error
    assert PASSWORD.encode() not in blob and API_KEY.encode() not in blob
    for where, text in texts.items():
        assert PASSWORD not in text, where
        assert API_KEY not in text, where
    record(
        ScenarioRecord(
            name="secrets stay secret",
            family="Secrets and isolation",
            injected="a recognisable API key (rejected once by the provider with a 401 that "
            "repeats it) and a Redis requirepass password",
            promise="neither appears in any Redis key or value, worker or CLI output, job "
            "error, metrics page or `settings` output",
            figures={"submitted": 7, "completed": 6, "failed": 1, "lost": 0},
            notes={"places scanned": ", ".join(["Redis keys and values", *texts])},
        )
    )
