"""Every Redis broker a worker app can have gets the hand-over transport; other brokers keep
kombu's; a bare ``rediss://`` broker verifies its server's certificate."""

from __future__ import annotations

import ssl

import pytest

from llmix_workers.settings import load_settings
from llmix_workers.worker.app import create_app
from llmix_workers.worker.broker_transport import (
    HandOverQoS,
    RedisTransport,
    SentinelTransport,
)


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("redis://127.0.0.1:6379/0", RedisTransport),
        ("rediss://127.0.0.1:6380/0?ssl_cert_reqs=required", RedisTransport),
        ("redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/svc/0", SentinelTransport),
    ],
)
def test_a_redis_broker_gets_the_hand_over_transport(url: str, transport: type) -> None:
    app = create_app(load_settings(redis={"url": url}))
    with app.connection_for_read() as conn:
        assert type(conn.transport) is transport
        assert transport.Channel.QoS is HandOverQoS


def test_other_brokers_keep_kombus_transport() -> None:
    settings = load_settings(
        redis={"url": "redis://127.0.0.1:6379/0"},
        worker={"broker_url": "amqp://guest:guest@127.0.0.1:5672/vh"},
    )
    assert "broker_transport" not in create_app(settings).conf.changes
    app = create_app(settings, broker_url="memory://")
    assert "broker_transport" not in app.conf.changes


def test_a_bare_rediss_broker_verifies_the_certificate() -> None:
    app = create_app(load_settings(redis={"url": "rediss://127.0.0.1:6380/0"}))
    assert app.conf.broker_use_ssl == {"ssl_cert_reqs": ssl.CERT_REQUIRED}


def test_a_dead_scanners_restore_lock_outlives_no_visibility_timeout() -> None:
    for visibility_s, expected in ((5, 5), (600, 30)):
        settings = load_settings(
            redis={"url": "redis://127.0.0.1:6379/0"}, worker={"visibility_timeout_s": visibility_s}
        )
        app = create_app(settings)
        assert app.conf.broker_transport_options["unacked_mutex_expire"] == expected
