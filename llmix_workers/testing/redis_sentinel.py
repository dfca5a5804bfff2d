"""PrivateSentinel: a primary, a replica and three sentinels on free loopback ports, for tests.

Every server is a :class:`~llmix_workers.testing.redis_server.PrivateRedis`; the sentinels run
``redis-server <config> --sentinel`` and watch the primary as service :attr:`service`. Killing
the primary (:meth:`kill_primary`) makes them promote the replica after ``down_after_ms``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Self

import redis

from llmix_workers.errors import ConfigError
from llmix_workers.testing.redis_server import PrivateRedis, local_client
from llmix_workers.testing.server import PrivateServer


class PrivateSentinel(PrivateServer):
    """A monitored primary + replica and ``sentinels`` sentinels (quorum 2). Context manager."""

    def __init__(
        self,
        *,
        service: str = "llmix",
        sentinels: int = 3,
        down_after_ms: int = 2000,
        failover_timeout_ms: int = 10_000,
    ) -> None:
        self.service = service
        self.primary = PrivateRedis()
        self.replica = PrivateRedis(extra_args=["--replicaof", "127.0.0.1", str(self.primary.port)])
        config = (
            f"sentinel monitor {service} 127.0.0.1 {self.primary.port} 2\n"
            f"sentinel down-after-milliseconds {service} {down_after_ms}\n"
            f"sentinel failover-timeout {service} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {service} 1\n"
        )
        self.sentinels = [
            PrivateRedis(extra_args=["--sentinel"], config_text=config) for _ in range(sentinels)
        ]

    @property
    def url(self) -> str:
        """``redis+sentinel://`` naming every sentinel and the service."""
        hosts = ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}"

    def start(self, timeout_s: float = 30.0) -> Self:
        """Start the servers; return once the replica is in sync and every sentinel sees the
        replica and the other sentinels.

        Raises:
            ConfigError: a server did not start, or the setup was not ready in ``timeout_s``.
        """
        try:
            self.primary.start()
            self.replica.start()
            for sentinel in self.sentinels:
                sentinel.start()
            wait_for_sentinels(self._ready, timeout_s, "sentinels not ready")
        except BaseException:
            self.close()
            raise
        return self

    def primary_port(self) -> int | None:
        """The primary's port as the first sentinel that answers reports it."""
        for sentinel in self.sentinels:
            client = local_client(sentinel.port)
            try:
                address: Any = client.sentinel_get_master_addr_by_name(self.service)
                return int(address[1]) if address else None
            except (redis.RedisError, OSError):
                continue
            finally:
                client.close()
        return None

    def kill_primary(self) -> PrivateRedis:
        """SIGKILL whichever server is the primary now; return it (dead)."""
        port = self.primary_port()
        victim = self.primary if port == self.primary.port else self.replica
        victim.kill()
        return victim

    def wait_for_failover(self, old_port: int, timeout_s: float = 60.0) -> int:
        """Wait until every sentinel names another primary, up in its eyes, that accepts writes
        (what a client asking any sentinel then finds); return its port.

        Raises:
            ConfigError: no failover within ``timeout_s``.
        """
        wait_for_sentinels(lambda: self._promoted(old_port), timeout_s, "no failover")
        port = self.primary_port()
        assert port is not None
        return port

    def _promoted(self, old_port: int) -> bool:
        port = self.primary_port()
        if (
            port is None
            or port == old_port
            or not all(self._names_up(sentinel.port, port) for sentinel in self.sentinels)
        ):
            return False
        client = local_client(port)
        try:
            return bool(client.info("replication").get("role") == "master")
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def _names_up(self, sentinel_port: int, primary_port: int) -> bool:
        """True when the sentinel on ``sentinel_port`` names ``primary_port`` as a primary that
        is neither subjectively nor objectively down (redis-py's test before using it)."""
        client = local_client(sentinel_port)
        try:
            state: Any = client.sentinel_master(self.service)
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()
        return bool(
            int(state.get("port", 0)) == primary_port
            and state.get("is_master")
            and not state.get("is_sdown")
            and not state.get("is_odown")
        )

    def _ready(self) -> bool:
        replica = local_client(self.replica.port)
        try:
            info: Any = replica.info("replication")
            if info.get("master_link_status") != "up":
                return False
            for sentinel in self.sentinels:
                client = local_client(sentinel.port)
                try:
                    state: Any = client.sentinel_master(self.service)
                    if int(state.get("num-slaves", 0)) < 1:
                        return False
                    if int(state.get("num-other-sentinels", 0)) < len(self.sentinels) - 1:
                        return False
                finally:
                    client.close()
            return True
        except (redis.RedisError, OSError):
            return False
        finally:
            replica.close()

    def close(self) -> None:
        for server in (*self.sentinels, self.replica, self.primary):
            server.close()


def wait_for_sentinels(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``check`` every 0.1 s until it holds.

    Raises:
        ConfigError: ``what``, when ``timeout_s`` passes first (a setup failure, not a test's).
    """
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise ConfigError(f"{what} within {timeout_s:g}s")
        time.sleep(0.1)
