"""RedisClusterL2: the L2 contract on a Redis Cluster (``redis+cluster://``).

Entries are plain strings spread over the cluster's slots by their own key (no hash tag: the
load spreads). A clear scans every primary for the prefix and unlinks what it finds, batch by
batch, each batch split by slot. The ``RedisCluster`` client is built on first use, so building
the backend connects to nothing; a cluster that cannot be reached is
:class:`~llmix_workers.errors.L2Unavailable` like any other outage.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import redis
from redis.cluster import RedisCluster

from llmix_workers.cache.backend import MISS, Miss
from llmix_workers.cache.backends.patterns import entry_pattern
from llmix_workers.errors import ConfigError, L2Unavailable
from llmix_workers.topology.clients import REDIS_ERRORS, cluster_client
from llmix_workers.topology.url import parse_redis_url

_OUTAGES = (*REDIS_ERRORS, ConfigError)


class RedisClusterL2:
    """L2 entries as Redis strings on a cluster (``SET key payload EX ttl``). Thread-safe."""

    enabled = True

    def __init__(
        self,
        url: str,
        *,
        socket_timeout_s: float,
        connect_timeout_s: float,
        max_connections: int | None,
        protocol: int,
    ) -> None:
        self._target = parse_redis_url(url)
        if self._target.kind != "cluster":
            raise ConfigError(f"{self._target.redacted}: RedisClusterL2 needs redis+cluster://")
        self._options: dict[str, Any] = {
            "socket_timeout_s": socket_timeout_s,
            "connect_timeout_s": connect_timeout_s,
            "max_connections": max_connections,
            "protocol": protocol,
        }
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> RedisCluster:
        """The cluster client, built (and the slot map fetched) on first use.

        Raises:
            L2Unavailable: no seed node answered.
        """
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        self._client = cluster_client(self._target, **self._options)
                    except ConfigError as exc:
                        raise L2Unavailable(str(exc)) from None
        return self._client

    def get(self, key: str) -> bytes | Miss:
        try:
            value = self.client.get(key)
        except redis.ResponseError:  # WRONGTYPE: something else lives here, not an entry
            return MISS
        except _OUTAGES as exc:
            raise _unavailable("GET", exc) from None
        return MISS if value is None else value  # type: ignore[return-value]

    def get_many(self, keys: Sequence[str]) -> list[bytes | Miss]:
        """``MGET`` split by slot, one per node (redis-py's ``mget_nonatomic``), in order."""
        if not keys:
            return []
        try:
            values = self.client.mget_nonatomic(list(keys))
        except _OUTAGES as exc:
            raise _unavailable("MGET", exc) from None
        return [MISS if value is None else value for value in values]

    def set(self, key: str, payload: bytes, ttl_s: int) -> None:
        try:
            self.client.set(key, payload, ex=ttl_s)
        except _OUTAGES as exc:
            raise _unavailable("SET", exc) from None

    def delete_entries(self, prefix: str, batch_size: int) -> int:
        """SCAN every primary for the entries under ``prefix`` and UNLINK them in batches; a
        primary that does not answer makes the whole clear fail (L2Unavailable)."""
        pattern = entry_pattern(prefix)
        deleted = 0
        try:
            client = self.client
            for node in client.get_primaries():  # type: ignore[no-untyped-call]
                cursor = 0
                while True:
                    reply = client.scan(cursor, match=pattern, count=batch_size,
                                        target_nodes=node)  # fmt: skip
                    cursors: Any = reply[0]  # the cluster client keys cursors by node name
                    cursor, keys = int(cursors[node.name]), reply[1]
                    if keys:
                        deleted += int(client.unlink(*keys))
                    if cursor == 0:
                        break
        except _OUTAGES as exc:
            message = f"Redis Cluster SCAN/UNLINK failed after {deleted} keys: {exc}"
            raise L2Unavailable(message) from None
        return deleted

    def count_entries(self, prefix: str) -> int:
        pattern = entry_pattern(prefix)
        try:
            client = self.client
            primaries = client.get_primaries()  # type: ignore[no-untyped-call]
            return sum(
                len(list(client.scan_iter(match=pattern, count=1000, target_nodes=node)))
                for node in primaries
            )
        except _OUTAGES as exc:
            raise _unavailable("SCAN", exc) from None

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def _unavailable(command: str, exc: BaseException) -> L2Unavailable:
    hung = isinstance(exc, redis.TimeoutError | TimeoutError)
    return L2Unavailable(f"Redis Cluster {command} failed: {exc}", timed_out=hung)
