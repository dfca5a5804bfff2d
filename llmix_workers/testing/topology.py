"""Topologies: where a fleet keeps its cache, its fleet state and its Celery broker, for tests that
must hold on every one of them.

========== ============================= ===================== ======================
name       L2 and fleet state            broker                result backend
========== ============================= ===================== ======================
standalone one private ``redis-server``  the same Redis        the same Redis
sentinel   primary + replica + 3         the same Sentinel     the same Sentinel
           sentinels (``redis+sentinel``) (kombu's sentinel)
cluster    a 3-primary Redis Cluster     a standalone Redis    the standalone Redis
           (``redis+cluster://``)        (no cluster broker)
rabbitmq   a standalone Redis            the machine's RabbitMQ the standalone Redis
                                         (a private vhost)
========== ============================= ===================== ======================

:class:`TopologyServers` starts the servers a topology needs on first use and shares them
(a test session starts each kind once); :meth:`Topology.fleet` makes a
:class:`~llmix_workers.testing.local_fleet.LocalFleet` on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from llmix_workers.errors import ConfigError
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.testing.rabbitmq import PrivateVhost, rabbitmq_reachable
from llmix_workers.testing.redis_cluster import PrivateCluster
from llmix_workers.testing.redis_sentinel import PrivateSentinel
from llmix_workers.testing.redis_server import PrivateRedis, local_client

TOPOLOGIES: Final = ("standalone", "sentinel", "cluster", "rabbitmq")


class TopologyUnavailable(ConfigError):
    """Raised when a topology's servers cannot run here (says what to install)."""


@dataclass(frozen=True)
class Topology:
    """The URLs of one topology (clear text: they are test servers)."""

    name: str
    redis_url: str
    broker_url: str
    result_backend: str

    def fleet(self, **options: Any) -> LocalFleet:
        """A :class:`LocalFleet` (not started) whose workers and producers use this topology."""
        return LocalFleet(redis_url=self.redis_url, broker_url=self.broker_url,
                          result_backend=self.result_backend, **options)  # fmt: skip

    def env(self) -> dict[str, str]:
        """The environment that points ``llmix-workers`` (worker or CLI) at this topology."""
        return {"LLMIX_REDIS__URL": self.redis_url, "LLMIX_WORKER__BROKER_URL": self.broker_url,
                "LLMIX_WORKER__RESULT_BACKEND": self.result_backend}  # fmt: skip


class TopologyServers:
    """The private servers behind the topologies, started when first needed; :meth:`close`
    stops them all."""

    def __init__(self) -> None:
        self._redis: PrivateRedis | None = None
        self._sentinel: PrivateSentinel | None = None
        self._cluster: PrivateCluster | None = None
        self._vhost: PrivateVhost | None = None

    def topology(self, name: str) -> Topology:
        """The topology ``name`` (one of :data:`TOPOLOGIES`), its servers started and empty.

        Raises:
            TopologyUnavailable: RabbitMQ is not reachable on 127.0.0.1:5672.
            ConfigError: a server did not start (no redis-server, no redis-cli...).
        """
        if name == "sentinel":
            url = self.sentinel().url
            self.flush(name)
            return Topology(name, url, url, url)
        redis_url = self.redis().url
        self.flush("standalone")
        if name == "standalone":
            return Topology(name, redis_url, redis_url, redis_url)
        if name == "cluster":
            self.cluster().flush()
            return Topology(name, self.cluster().url, redis_url, redis_url)
        if name == "rabbitmq":
            return Topology(name, redis_url, self._fresh_vhost().url, redis_url)
        raise ValueError(f"unknown topology {name!r}: one of {TOPOLOGIES}")

    def redis(self) -> PrivateRedis:
        """The standalone Redis (started on first use)."""
        if self._redis is None:
            self._redis = PrivateRedis().start()
        return self._redis

    def flush(self, name: str) -> None:
        """Empty the Redis data of topology ``name`` (entries, fleet state, queues)."""
        if name == "sentinel" and self._sentinel is not None:
            port = self._sentinel.primary_port()
            if port is not None:
                client = local_client(port, timeout_s=5)
                client.flushall()
                client.close()
        elif name == "cluster" and self._cluster is not None:
            self._cluster.flush()
        elif self._redis is not None:
            client = local_client(self._redis.port, timeout_s=5)
            client.flushall()
            client.close()

    def sentinel(self) -> PrivateSentinel:
        """The Sentinel set (started on first use)."""
        if self._sentinel is None:
            self._sentinel = PrivateSentinel().start()
        return self._sentinel

    def cluster(self) -> PrivateCluster:
        """The 3-primary cluster (started on first use)."""
        if self._cluster is None:
            self._cluster = PrivateCluster(3).start()
        return self._cluster

    def _fresh_vhost(self) -> PrivateVhost:
        """A new, empty virtual host (the previous one deleted with its queues)."""
        if not rabbitmq_reachable():
            raise TopologyUnavailable(
                "RabbitMQ is not reachable on 127.0.0.1:5672 (apt install rabbitmq-server; "
                "guest/guest from loopback)"
            )
        if self._vhost is not None:
            self._vhost.delete()
        self._vhost = PrivateVhost().create()
        return self._vhost

    def close(self) -> None:
        for server in (self._redis, self._sentinel, self._cluster):
            if server is not None:
                server.close()
        if self._vhost is not None:
            self._vhost.delete()
        self._redis = self._sentinel = self._cluster = self._vhost = None
