"""NodeTelemetry: a worker node's HTTP endpoint (``/metrics``, ``/healthz``, ``/readyz``).

Runs in the node's main process. With the prefork pool it first gives the node a private
multiprocess folder (wiped), so every child's samples add up on one page; with threads or solo
the process registry is served as it is. Liveness comes from a consumer bootstep that beats on
the consumer's timer; readiness asks the broker, and only the broker (see
:mod:`llmix_workers.telemetry.health` for why the cache's Redis is left out).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, bootsteps
from prometheus_client import REGISTRY, CollectorRegistry

from llmix_workers.settings import Settings
from llmix_workers.telemetry.health import HealthState
from llmix_workers.telemetry.multiprocess import multiprocess_registry, prepare_node_dir
from llmix_workers.telemetry.server import MetricsServer, bind_metrics_server

logger = logging.getLogger(__name__)
#: Seconds between liveness beats of the consumer loop.
BEAT_INTERVAL_S = 5.0
#: Timeout of one readiness probe of the broker, seconds.
PROBE_TIMEOUT_S = 2.0


class NodeTelemetry:
    """:meth:`prepare` in ``worker_init``, :meth:`serve` once the pool has started (see
    :mod:`llmix_workers.worker.signals`), :meth:`close` at shutdown."""

    current: NodeTelemetry | None = None

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.health = HealthState.from_settings(
            settings.telemetry, broker_probe=lambda: broker_answers(app)
        )
        self.server: MetricsServer | None = None
        self.registry: CollectorRegistry = REGISTRY

    def prepare(self, hostname: str, prefork: bool) -> NodeTelemetry:
        """Choose the registry (a prefork node's folder is made before the pool forks), bind
        the port and become :attr:`current`, which the liveness bootstep beats; no thread
        starts here.

        Raises:
            ConfigError: ``telemetry.metrics_port`` cannot be bound.
        """
        section = self.settings.telemetry
        if section.metrics_port and prefork:
            self.registry = multiprocess_registry(prepare_node_dir(section.multiproc_dir, hostname))
        self.server = bind_metrics_server(section, self.registry, self.health)
        NodeTelemetry.current = self
        return self

    def serve(self) -> None:
        """Start serving the bound endpoint (nothing when ``telemetry.metrics_port`` is 0)."""
        if self.server is not None and not self.server.serving:
            self.server.start()
            logger.info("metrics and health on port %d", self.server.port)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        if NodeTelemetry.current is self:
            NodeTelemetry.current = None


class HealthBeat(bootsteps.StartStopStep):  # type: ignore[misc]
    """Beats liveness on the consumer's own timer, so a stuck consumer loop stops the beats."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        self.tref: Any = None

    def start(self, consumer: Any) -> None:
        node = NodeTelemetry.current
        if node is not None:
            node.health.beat()
            self.tref = consumer.timer.call_repeatedly(BEAT_INTERVAL_S, node.health.beat)

    def stop(self, consumer: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


def broker_answers(app: Celery) -> bool:
    """Connect to ``app``'s broker (any transport kombu has: Redis, Sentinel, AMQP) within
    :data:`PROBE_TIMEOUT_S`; True when it answered."""
    options = {"socket_timeout": PROBE_TIMEOUT_S, "socket_connect_timeout": PROBE_TIMEOUT_S}
    conn = app.connection_for_read(transport_options=options, connect_timeout=PROBE_TIMEOUT_S)
    try:
        conn.connect()
        # the Redis transport PINGs when it opens a channel; AMQP has shaken hands already
        return conn.default_channel is not None
    finally:
        conn.release()
