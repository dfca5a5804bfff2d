"""Broker and result-backend URLs translated for kombu and Celery, and create_app using them."""

from __future__ import annotations

import ssl

import pytest

from llmix_workers.errors import ConfigError
from llmix_workers.settings import load_settings
from llmix_workers.topology import celery_transport
from llmix_workers.worker.app import create_app


def test_standalone_and_amqp_pass_through() -> None:
    for url in ("redis://h:6379/1", "rediss://h:6380/0", "amqp://guest:guest@h:5672/vh"):
        assert celery_transport(url, "broker", "worker.broker_url") == {"broker_url": url}
    assert celery_transport("redis://h/2", "result_backend", "x") == {
        "result_backend": "redis://h/2"
    }


def test_sentinel_becomes_kombus_sentinel_transport_with_master_name() -> None:
    url = "redis+sentinel://:p%2Fw@s1:26379,s2:26380/mymaster/2?sentinel_password=sp"
    conf = celery_transport(url, "broker", "worker.broker_url")
    assert conf["broker_url"] == "sentinel://:p%2Fw@s1:26379/2;sentinel://:p%2Fw@s2:26380/2"
    assert conf["broker_transport_options"] == {
        "master_name": "mymaster", "sentinel_kwargs": {"password": "sp"},
    }  # fmt: skip
    backend = celery_transport(url, "result_backend", "worker.result_backend")
    assert backend["result_backend"] == conf["broker_url"]
    assert backend["result_backend_transport_options"]["master_name"] == "mymaster"


def test_tls_sentinel_asks_for_verified_tls() -> None:
    conf = celery_transport("rediss+sentinel://s1:26379/m", "result_backend", "x")
    assert conf["redis_backend_use_ssl"] == {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    assert conf["result_backend_transport_options"]["sentinel_kwargs"] == {"ssl": True}


@pytest.mark.parametrize("role", ["broker", "result_backend"])
def test_a_cluster_is_refused_as_broker_or_backend_with_what_to_do(role: str) -> None:
    with pytest.raises(ConfigError, match="cannot be a Celery") as info:
        celery_transport("redis+cluster://:hunter2@h:7000", role, "worker.broker_url")  # type: ignore[arg-type]
    assert "worker.broker_url" in str(info.value) and "hunter2" not in str(info.value)
    assert "redis+sentinel://" in str(info.value)


def test_create_app_merges_sentinel_options_and_refuses_a_cluster_fallback() -> None:
    settings = load_settings(redis={"url": "redis+sentinel://127.0.0.1:26379/mymaster/1"})
    app = create_app(settings)
    assert app.conf.broker_url == "sentinel://127.0.0.1:26379/1"
    options = app.conf.broker_transport_options
    assert options["master_name"] == "mymaster" and options["visibility_timeout"] == 600
    assert app.conf.result_backend_transport_options["master_name"] == "mymaster"
    cluster = load_settings(redis={"url": "redis+cluster://127.0.0.1:7000"})
    with pytest.raises(ConfigError, match=r"worker.broker_url \(unset, so the Redis URL\)"):
        create_app(cluster)
    ok = load_settings(
        redis={"url": "redis+cluster://127.0.0.1:7000"},
        worker={"broker_url": "redis://127.0.0.1:1/0", "result_backend": "redis://127.0.0.1:1/1"},
    )
    assert create_app(ok).conf.broker_url == "redis://127.0.0.1:1/0"


def test_task_events_follow_the_setting() -> None:
    redis = {"url": "redis://127.0.0.1:1/0"}
    assert create_app(load_settings(redis=redis)).conf.worker_send_task_events is False
    on = create_app(load_settings(redis=redis, worker={"task_events": True}))
    assert on.conf.worker_send_task_events is True and on.conf.task_send_sent_event is True
