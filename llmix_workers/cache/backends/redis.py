"""RedisL2: the L2 contract on Redis with redis-py (hiredis parser, one pooled connection a thread).

A lookup is one ``GET`` on a connection the calling thread keeps
(:class:`~llmix_workers.topology.thread_connections.ThreadConnections`), which skips the pool's
lock and redis-py's per-command dispatch (about half the client-side cost of ``Redis.get``).
Timeouts come from settings, retries are off (:func:`~llmix_workers.topology.clients.
retry_policy`): a slow or dead Redis costs at most one socket timeout, then
:class:`~llmix_workers.errors.L2Unavailable`. Built from settings by
:func:`llmix_workers.wiring.cache.l2_backend`, which picks this or the cluster backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import redis

from llmix_workers.cache.backend import MISS, Miss
from llmix_workers.cache.backends.patterns import entry_pattern
from llmix_workers.errors import L2Unavailable
from llmix_workers.topology.clients import connection_pool, pooled_client
from llmix_workers.topology.thread_connections import ThreadConnections

#: Keys per MGET when a batch is looked up (all MGETs of a batch go in one round trip).
MGET_CHUNK: Final = 1000
_OUTAGES = (redis.ConnectionError, redis.TimeoutError, OSError)


class RedisL2:
    """L2 entries as Redis strings (``SET key payload EX ttl``) on a standalone Redis or the
    Sentinel-managed primary (``redis+sentinel://``: a reconnect follows a failover)."""

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
        self._pool = connection_pool(
            url,
            socket_timeout_s=socket_timeout_s,
            connect_timeout_s=connect_timeout_s,
            max_connections=max_connections,
            protocol=protocol,
        )
        self._client = pooled_client(self._pool)
        self._connections = ThreadConnections(self._pool)

    @property
    def client(self) -> redis.Redis:
        """A pooled redis-py client on the same connection settings (for rare commands)."""
        return self._client

    def _command(self, *args: Any) -> Any:
        try:
            return self._connections.command(*args)
        except _OUTAGES as exc:
            hung = isinstance(exc, redis.TimeoutError | TimeoutError)
            raise L2Unavailable(f"Redis {args[0]} failed: {exc}", timed_out=hung) from None

    def get(self, key: str) -> bytes | Miss:
        try:
            value = self._command("GET", key)
        except redis.ResponseError:  # WRONGTYPE: something else lives here, not an entry
            return MISS
        return MISS if value is None else value

    def get_many(self, keys: Sequence[str]) -> list[bytes | Miss]:
        """Pipelined ``MGET`` s of :data:`MGET_CHUNK` keys on this thread's connection."""
        chunks = [keys[i : i + MGET_CHUNK] for i in range(0, len(keys), MGET_CHUNK)]
        try:
            replies = self._connections.pipeline([("MGET", *chunk) for chunk in chunks])
        except _OUTAGES as exc:
            hung = isinstance(exc, redis.TimeoutError | TimeoutError)
            raise L2Unavailable(f"Redis MGET failed: {exc}", timed_out=hung) from None
        for reply in replies:
            if isinstance(reply, redis.ResponseError):
                raise L2Unavailable(f"Redis MGET refused: {reply}")
        values = [value for chunk in replies for value in chunk]
        return [MISS if value is None else value for value in values]

    def set(self, key: str, payload: bytes, ttl_s: int) -> None:
        try:
            self._command("SET", key, payload, "EX", ttl_s)
        except redis.ResponseError as exc:
            raise L2Unavailable(f"Redis SET refused: {exc}") from None

    def delete_entries(self, prefix: str, batch_size: int) -> int:
        pattern = entry_pattern(prefix)
        deleted = cursor = 0
        try:
            while True:
                cursor, keys = self._client.scan(cursor, match=pattern, count=batch_size)
                if keys:
                    deleted += int(self._client.unlink(*keys))
                if cursor == 0:
                    return deleted
        except _OUTAGES as exc:
            raise L2Unavailable(f"Redis SCAN/UNLINK failed after {deleted} keys: {exc}") from None

    def count_entries(self, prefix: str) -> int:
        pattern = entry_pattern(prefix)
        try:
            return sum(1 for _ in self._client.scan_iter(match=pattern, count=1000))
        except _OUTAGES as exc:
            raise L2Unavailable(f"Redis SCAN failed: {exc}") from None

    def close(self) -> None:
        self._connections.close()
