"""The Redis broker gives every job to a worker: none is lost between two steps, none is held
back by a dead process.

kombu's Redis transport takes a message with ``BRPOP``, then records it as unacknowledged on
another connection; a broker that dies between the two left the message nowhere (CI ci37: one
job of 18 never answered after a Sentinel failover). The worker's transport hands it over
anyway. The broker here is a relay in front of a private Redis that dies right after answering
the first ``BRPOP``, as a primary killed at that instant does.

kombu guards its scan for jobs to give back (unacknowledged past the visibility timeout) with a
lock that a process dying mid-scan left held for five minutes, holding up every redelivery of
the fleet; the worker's app bounds it by the visibility timeout.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from kombu.connection import Connection
from kombu.entity import Queue

from llmix_workers.settings import load_settings
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.testing.relay import TcpRelay
from llmix_workers.testing.waiting import eventually
from llmix_workers.worker.app import create_app

QUEUE = Queue("hand-over", routing_key="hand-over")  # type: ignore[no-untyped-call]


@pytest.fixture
def relay(redis_url: str, redis_server: PrivateRedis) -> Iterator[TcpRelay]:
    with TcpRelay("127.0.0.1", redis_server.port) as link:
        yield link


def worker_app(broker_url: str, **conf: Any) -> Celery:
    settings = load_settings(
        redis={"url": broker_url}, worker={"visibility_timeout_s": 1, "restore_interval_s": 0.2}
    )
    return create_app(settings, **conf)


def consume_once(broker_url: str, **conf: Any) -> list[Any]:
    """What a worker's consumer (its app's transport) receives in one round through
    ``broker_url``, the connection errors of the dying broker aside; nothing is acknowledged."""
    received: list[Any] = []
    with worker_app(broker_url, **conf).connection_for_read() as conn:
        consumer = conn.Consumer(QUEUE, accept=["json"],
                                 callbacks=[lambda body, message: received.append(body)])  # fmt: skip
        with contextlib.suppress(*conn.connection_errors, socket.timeout), consumer:
            conn.drain_events(timeout=10)
        with contextlib.suppress(*conn.connection_errors):
            conn.close()
    return received


def publish(redis_url: str, body: dict[str, Any]) -> None:
    with Connection(redis_url) as direct:  # type: ignore[no-untyped-call]  # the producer reaches Redis; a worker, the relay
        direct.Producer().publish(body, routing_key="hand-over", declare=[QUEUE])


def test_a_message_taken_as_the_broker_dies_is_handed_over(redis_url: str, relay: TcpRelay) -> None:
    publish(redis_url, {"job": 1})
    relay.die_after_reply_to(b"BRPOP")

    received = consume_once(f"redis://127.0.0.1:{relay.port}/0")

    assert relay.is_dead  # the broker died after handing the message out
    client = redis.Redis.from_url(redis_url)
    try:
        left = client.llen("hand-over") + client.hlen("unacked")
    finally:
        client.close()
    assert left == 0  # Redis holds it nowhere: only the worker has it
    assert received == [{"job": 1}]


def test_a_process_dead_while_scanning_for_lost_jobs_holds_up_no_redelivery(
    redis_url: str, relay: TcpRelay
) -> None:
    publish(redis_url, {"job": 2})
    relay.die_after_reply_to(b"HSET")  # recorded as unacknowledged, then its worker is gone
    assert consume_once(f"redis://127.0.0.1:{relay.port}/0") == [{"job": 2}]
    app = worker_app(redis_url)
    received: list[Any] = []
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        client = redis.Redis.from_url(redis_url)
        try:  # the restore lock as a process killed mid-scan leaves it
            assert client.hlen("unacked") == 1
            client.set(channel.unacked_mutex_key, "dead", nx=True, ex=channel.unacked_mutex_expire)
        finally:
            client.close()

        def redelivered() -> bool:
            with contextlib.suppress(socket.timeout):
                conn.drain_events(timeout=1)
            return bool(received)

        with conn.Consumer(QUEUE, accept=["json"],
                           callbacks=[lambda body, message: received.append(body)]):  # fmt: skip
            eventually(redelivered, "the job given back to a live worker", timeout_s=60)
    assert received == [{"job": 2}]
