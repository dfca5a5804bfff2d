"""SentinelGroup: a primary, a replica and three sentinels, each on a host of its own.

The primary lives on host ``cache``, the replica on ``replica``, the sentinels on ``sentinel``:
so the replication link is a link of its own that the failover step cuts (a replica held back by
SIGSTOP would still read what the kernel had buffered for it, and never miss a write). Every
server is known by its host's service address, which the sentinels hand to clients.
"""

from __future__ import annotations

from typing import Any

import redis

from llmix_workers.testing.nemesis.netns import Host
from llmix_workers.testing.redis_sentinel import wait_for_sentinels
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.topology.clients import redis_client

LISTEN_EVERYWHERE = ["--bind", "0.0.0.0", "--protected-mode", "no"]
SERVICE = "llmix"


class SentinelGroup:
    """Start with :meth:`start`; :meth:`servers` says which host holds the primary now."""

    def __init__(self, cache: Host, replica: Host, sentinel: Host, *, down_after_ms: int = 1000,
                 failover_timeout_ms: int = 10_000) -> None:  # fmt: skip
        self.hosts = {"cache": cache, "replica": replica, "sentinel": sentinel}
        self.primary = PrivateRedis(extra_args=LISTEN_EVERYWHERE)
        self.replica = PrivateRedis(extra_args=[*LISTEN_EVERYWHERE, "--replicaof", cache.address,
                                                str(self.primary.port)])  # fmt: skip
        config = (
            f"sentinel monitor {SERVICE} {cache.address} {self.primary.port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}\n"
            f"sentinel failover-timeout {SERVICE} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
            f"sentinel announce-ip {sentinel.address}\n"
        )
        self.sentinels = [PrivateRedis(extra_args=[*LISTEN_EVERYWHERE, "--sentinel"],
                                       config_text=config) for _ in range(3)]  # fmt: skip

    @property
    def url(self) -> str:
        address = self.hosts["sentinel"].address
        return (
            "redis+sentinel://"
            + ",".join(f"{address}:{s.port}" for s in self.sentinels)
            + (f"/{SERVICE}")
        )

    def host_of(self, server: PrivateRedis) -> Host:
        return self.hosts["cache" if server is self.primary else "replica"]

    def start(self, timeout_s: float = 30.0) -> SentinelGroup:
        self.hosts["cache"].call(self.primary.start)
        self.hosts["replica"].call(self.replica.start)
        for sentinel in self.sentinels:
            self.hosts["sentinel"].call(sentinel.start)
        ready = lambda: self.hosts["sentinel"].call(self._ready)  # noqa: E731
        wait_for_sentinels(ready, timeout_s, "sentinels not ready")
        return self

    def servers(self) -> list[PrivateRedis]:
        """[primary, replica] as the sentinels see them now (the configured order if none
        answers)."""
        address = self.hosts["sentinel"].call(self._primary_address)
        if address == (self.hosts["replica"].address, self.replica.port):
            return [self.replica, self.primary]
        return [self.primary, self.replica]

    def wait_for_failover(self, old: PrivateRedis, timeout_s: float = 60.0) -> None:
        """Until every sentinel names the other server as an up primary that takes writes."""
        new = self.replica if old is self.primary else self.primary
        target = (self.host_of(new).address, new.port)
        wait_for_sentinels(lambda: self.hosts["sentinel"].call(self._promoted, target), timeout_s,
              "no failover")  # fmt: skip

    def close(self) -> None:
        for server in (*self.sentinels, self.replica, self.primary):
            server.close()

    # -- run inside the sentinel host -----------------------------------------------------------

    def _primary_address(self) -> tuple[str, int] | None:
        for sentinel in self.sentinels:
            with _client("127.0.0.1", sentinel.port) as client:
                try:
                    found: Any = client.sentinel_get_master_addr_by_name(SERVICE)
                    return (str(found[0]), int(found[1])) if found else None
                except (redis.RedisError, OSError):
                    continue
        return None

    def _promoted(self, target: tuple[str, int]) -> bool:
        for sentinel in self.sentinels:
            with _client("127.0.0.1", sentinel.port) as client:
                try:
                    state: Any = client.sentinel_master(SERVICE)
                except (redis.RedisError, OSError):
                    return False
            if (
                (str(state.get("ip")), int(state.get("port", 0))) != target
                or state.get("is_sdown")
                or state.get("is_odown")
            ):
                return False
        with _client(*target) as primary:
            try:
                return bool(primary.info("replication").get("role") == "master")
            except (redis.RedisError, OSError):
                return False

    def _ready(self) -> bool:
        try:
            with _client(self.hosts["replica"].address, self.replica.port) as replica:
                if replica.info("replication").get("master_link_status") != "up":
                    return False
            for sentinel in self.sentinels:
                with _client("127.0.0.1", sentinel.port) as client:
                    state: Any = client.sentinel_master(SERVICE)
                if (
                    int(state.get("num-slaves", 0)) < 1
                    or int(state.get("num-other-sentinels", 0)) < len(self.sentinels) - 1
                ):
                    return False
            return True
        except (redis.RedisError, OSError):
            return False


def _client(host: str, port: int) -> redis.Redis:
    return redis_client(f"redis://{host}:{port}/0", socket_timeout_s=1, connect_timeout_s=1)
