"""The node endpoint over real HTTP (httpx against a loopback server)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from llmix_workers.errors import ConfigError
from llmix_workers.settings import TelemetrySettings
from llmix_workers.telemetry import multiprocess as mp
from llmix_workers.telemetry.health import HealthState
from llmix_workers.telemetry.metrics import Metrics
from llmix_workers.telemetry.server import MetricsServer, bind_metrics_server
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.redis_server import free_port
from tests.unit.telemetry.support import populate

PASSWORD = "hunter2-broker-password"


class Broker:
    def __init__(self) -> None:
        self.ok: bool | Exception = True

    def __call__(self) -> bool:
        if isinstance(self.ok, Exception):
            raise self.ok
        return self.ok


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def broker() -> Broker:
    return Broker()


@pytest.fixture
def health(clock: FakeClock, broker: Broker) -> HealthState:
    return HealthState(
        liveness_timeout_s=120, readiness_timeout_s=30, broker_probe=broker, clock=clock
    )


@pytest.fixture
def server(registry: CollectorRegistry, health: HealthState) -> Iterator[MetricsServer]:
    with MetricsServer("127.0.0.1", 0, registry, health, poll_interval_s=0.01) as running:
        yield running


def get(server: MetricsServer, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{server.port}{path}", headers=headers, timeout=10)


def test_metrics_in_the_text_format(server: MetricsServer, metrics: Metrics) -> None:
    populate(metrics)
    response = get(server, "/metrics?name[]=ignored")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'llmix_cache_lookups_total{outcome="l1_hit"} 1.0' in response.text
    assert "llmix_worker_processes 1.0" in response.text


def test_metrics_in_openmetrics_when_asked(server: MetricsServer, metrics: Metrics) -> None:
    metrics.lookup("miss")
    response = get(server, "/metrics", Accept="application/openmetrics-text; version=1.0.0")
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_unknown_path_is_404(server: MetricsServer) -> None:
    assert get(server, "/").status_code == 404
    assert get(server, "/metricsz").status_code == 404


def test_liveness_follows_the_beats(
    server: MetricsServer, health: HealthState, clock: FakeClock
) -> None:
    assert (get(server, "/healthz").status_code, get(server, "/healthz").text) == (200, "alive\n")
    clock.tick(120)
    assert get(server, "/healthz").status_code == 200
    clock.tick(1)
    response = get(server, "/healthz")
    assert (response.status_code, response.text) == (503, "no consumer progress for 121s\n")
    health.beat()
    assert get(server, "/healthz").status_code == 200


def test_readiness_follows_the_broker_alone(
    server: MetricsServer, clock: FakeClock, broker: Broker
) -> None:
    response = get(server, "/readyz")
    assert (response.status_code, response.text) == (200, "ready\n")
    broker.ok = False
    clock.tick(10)
    assert get(server, "/readyz").status_code == 200  # answered 10 s ago: within 30 s
    broker.ok = ConnectionRefusedError(f"amqp://llmix:{PASSWORD}@rabbit:5672 refused")
    clock.tick(21)
    response = get(server, "/readyz")
    assert (response.status_code, response.text) == (503, "broker has not answered for 31s\n")
    broker.ok = True
    clock.tick(2)
    response = get(server, "/readyz")
    assert (response.status_code, response.text) == (200, "ready\n")
    assert get(server, "/healthz").status_code == 200


def test_a_broker_that_never_answered_is_not_ready(clock: FakeClock) -> None:
    health = HealthState(liveness_timeout_s=120, readiness_timeout_s=30,
                         broker_probe=lambda: False, clock=clock)  # fmt: skip
    assert health.readiness() == (False, "broker has not answered yet")


def test_the_broker_is_probed_at_most_every_probe_interval(clock: FakeClock) -> None:
    answers = [True, False, False]
    health = HealthState(liveness_timeout_s=120, readiness_timeout_s=3,
                         broker_probe=lambda: answers.pop(0), clock=clock)  # fmt: skip
    assert health.readiness() == (True, "ready")
    clock.tick(1)
    assert health.readiness() == (True, "ready") and answers == [False, False]
    clock.tick(2)
    assert health.readiness() == (True, "ready") and answers == [False]
    clock.tick(2)
    assert health.readiness() == (False, "broker has not answered for 5s") and answers == []


def test_without_a_broker_probe_the_node_is_ready(clock: FakeClock) -> None:
    health = HealthState(liveness_timeout_s=1, readiness_timeout_s=1, clock=clock)
    assert health.readiness() == (True, "ready")


def test_port_zero_in_settings_means_no_server(registry: CollectorRegistry) -> None:
    section = TelemetrySettings()
    assert bind_metrics_server(section, registry, HealthState.from_settings(section)) is None


def test_settings_port_is_served_and_released_on_close(registry: CollectorRegistry) -> None:
    port = free_port()
    section = TelemetrySettings(metrics_host="127.0.0.1", metrics_port=port, liveness_timeout_s=5)
    health = HealthState.from_settings(section)
    server = bind_metrics_server(section, registry, health)
    assert server is not None and server.port == port
    server.start()
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200
    finally:
        server.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    with MetricsServer("127.0.0.1", port, registry, health) as again:
        assert get(again, "/healthz").status_code == 200


def test_a_taken_port_is_a_config_error_naming_the_setting(registry: CollectorRegistry) -> None:
    section = TelemetrySettings(metrics_host="127.0.0.1", metrics_port=free_port())
    health = HealthState.from_settings(section)
    server = bind_metrics_server(section, registry, health)
    assert server is not None
    try:
        with pytest.raises(ConfigError, match=r"^telemetry\.metrics_port: .*127\.0\.0\.1:\d+"):
            bind_metrics_server(section, registry, health)
    finally:
        server.close()


def _prefork_child(lookups: int, counted: Any = None, release: Any = None) -> None:
    metrics = Metrics.from_settings(TelemetrySettings(), CollectorRegistry())
    metrics.worker_process(True)
    for _ in range(lookups):
        metrics.lookup("l2_hit")
    if counted is not None:
        counted.set()
    if release is not None:
        release.wait(60)


def test_prefork_node_serves_every_child(tmp_path: Path, health: HealthState) -> None:
    fork = multiprocessing.get_context("fork")
    node = mp.prepare_node_dir(tmp_path, "celery@prefork")
    counted, release = fork.Event(), fork.Event()
    try:
        gone = fork.Process(target=_prefork_child, args=(2,))
        running = fork.Process(target=_prefork_child, args=(3, counted, release))
        gone.start()
        running.start()
        gone.join(60)
        assert gone.exitcode == 0
        assert counted.wait(60), "the running child never counted its lookups"
        with MetricsServer("127.0.0.1", 0, mp.multiprocess_registry(node), health) as server:
            text = get(server, "/metrics").text
        release.set()
        running.join(60)
    finally:
        mp.leave_multiprocess_mode()
    # counters of the gone child stay; its live gauge was reaped at the scrape (never marked
    # dead by hand), the running child's still counts
    assert 'llmix_cache_lookups_total{outcome="l2_hit"} 5.0' in text
    assert "llmix_worker_processes 1.0" in text
    assert str(os.getpid()) not in text
