"""PrivateCluster: a throwaway Redis Cluster of primaries on free loopback ports, for tests.

Each node is a :class:`~llmix_workers.testing.redis_server.PrivateRedis` started with
``--cluster-enabled yes``; ``redis-cli --cluster create … --cluster-replicas 0 --cluster-yes``
assigns the 16384 slots. Needs ``redis-server`` and ``redis-cli`` (Debian: ``redis-server``,
``redis-tools``); nothing is persisted.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import Self

import redis

from llmix_workers.errors import ConfigError
from llmix_workers.testing.redis_server import PrivateRedis, free_port, local_client
from llmix_workers.testing.server import PrivateServer

CLI_HINT = "no redis-cli found: install Redis's tools (apt install redis-tools or redis-server)"


class PrivateCluster(PrivateServer):
    """``primaries`` cluster nodes owned by this object (use as a context manager)."""

    def __init__(self, primaries: int = 3, *, node_timeout_ms: int = 2000) -> None:
        cli = shutil.which("redis-cli")
        if cli is None:
            raise ConfigError(CLI_HINT)
        self.cli = cli
        # an explicit bus port: the default (port + 10000) may be taken, or past 65535
        self.nodes = [
            PrivateRedis(extra_args=["--cluster-enabled", "yes", "--cluster-port", str(free_port()),
                                     "--cluster-node-timeout", str(node_timeout_ms)])
            for _ in range(primaries)
        ]  # fmt: skip

    @property
    def url(self) -> str:
        """``redis+cluster://`` with every node as a seed."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self, timeout_s: float = 30.0) -> Self:
        """Start every node, create the cluster, wait until every node says ``cluster_state:ok``.

        Raises:
            ConfigError: a node did not start, or the cluster was not ready in ``timeout_s``.
        """
        try:
            self._create(timeout_s)
        except BaseException:
            self.close()
            raise
        return self

    def _create(self, timeout_s: float) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        done = subprocess.run(
            [self.cli, "--cluster", "create", *addresses, "--cluster-replicas", "0",
             "--cluster-yes"],
            capture_output=True, timeout=timeout_s,
        )  # fmt: skip
        if done.returncode != 0:
            raise ConfigError(f"redis-cli --cluster create failed: {done.stdout[-500:]!r}")
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            if time.monotonic() > deadline:
                raise ConfigError(f"Redis Cluster not ready in {timeout_s:g}s")
            time.sleep(0.05)

    def ready(self) -> bool:
        """Every node reports ``cluster_state:ok`` and knows every other node."""
        for node in self.nodes:
            client = local_client(node.port)
            try:
                info = client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
                text = info.decode() if isinstance(info, bytes) else str(info)
                if "cluster_state:ok" not in text or f"cluster_known_nodes:{len(self.nodes)}" \
                        not in text:  # fmt: skip
                    return False
            except (redis.RedisError, OSError):
                return False
            finally:
                client.close()
        return True

    def flush(self) -> None:
        """Empty every node."""
        for node in self.nodes:
            client = local_client(node.port)
            client.flushall()
            client.close()

    def close(self) -> None:
        for node in self.nodes:
            node.close()
