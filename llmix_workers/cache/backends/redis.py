"""RedisL2: the L2 contract on Redis with redis-py (hiredis parser, one pooled connection a thread).

A lookup is one ``GET`` on a connection the calling thread keeps, which skips the pool's
lock and redis-py's per-command dispatch (about half the client-side cost of ``Redis.get``).
Timeouts come from settings, retries are off: a slow or dead Redis costs at most one socket
timeout, then :class:`~llmix_workers.errors.L2Unavailable`.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from typing import Any, Final, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from llmix_workers.cache.backend import MISS, L2Backend, Miss
from llmix_workers.errors import L2Unavailable
from llmix_workers.topology.clients import connection_pool
from llmix_workers.topology.url import parse_redis_url

#: Keys per MGET when a batch is looked up (all MGETs of a batch go in one round trip).
MGET_CHUNK: Final = 1000
_OUTAGES = (redis.ConnectionError, redis.TimeoutError, OSError)


class RedisConfig(Protocol):
    """The settings section RedisL2 is built from (``RedisSettings`` is one)."""

    @property
    def url(self) -> Any: ...  # a pydantic SecretStr, or None
    @property
    def socket_timeout_s(self) -> float: ...
    @property
    def connect_timeout_s(self) -> float: ...
    @property
    def max_connections(self) -> int | None: ...  # None: unbounded (redis-py's default)
    @property
    def protocol(self) -> int: ...


def glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters so ``text`` matches only itself in ``SCAN MATCH``."""
    return "".join("\\" + char if char in "*?[]\\^" else char for char in text)


def entry_pattern(prefix: str) -> str:
    """The ``SCAN MATCH`` pattern of the entries under ``prefix``: it and 64 lowercase hex."""
    return glob_escape(prefix) + "[0-9a-f]" * 64


class RedisL2:
    """L2 entries as Redis strings (``SET key payload EX ttl``) on a standalone Redis or the
    Sentinel-managed primary (``redis+sentinel://``: a reconnect follows a failover)."""

    enabled = True

    def __init__(
        self,
        url: str,
        *,
        socket_timeout_s: float = 0.25,
        connect_timeout_s: float = 0.25,
        max_connections: int | None = 64,
        protocol: int = 2,
    ) -> None:
        self._pool = connection_pool(
            url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            max_connections=max_connections,
            protocol=protocol,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._client = redis.Redis(connection_pool=self._pool)
        self._local = threading.local()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget_connections(ref))

    @classmethod
    def from_settings(cls, settings: RedisConfig) -> L2Backend:
        """The L2 backend the URL's topology needs: RedisL2, or
        :class:`~llmix_workers.cache.backends.redis_cluster.RedisClusterL2` for a cluster."""
        if settings.url is None:
            raise L2Unavailable("no Redis URL is configured")
        if parse_redis_url(settings.url.get_secret_value()).kind == "cluster":
            from llmix_workers.cache.backends.redis_cluster import RedisClusterL2

            return RedisClusterL2.from_settings(settings)
        return cls(
            settings.url.get_secret_value(),
            socket_timeout_s=settings.socket_timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
            max_connections=settings.max_connections,
            protocol=settings.protocol,
        )

    @property
    def client(self) -> redis.Redis:
        """A pooled redis-py client on the same connection settings (for rare commands)."""
        return self._client

    def _command(self, *args: Any) -> Any:
        conn = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = self._local.conn = self._pool.get_connection()
            try:
                conn.send_command(*args)
                return conn.read_response()
            except redis.ConnectionError:
                # A connection that outlived a Redis restart fails once: redo it on a fresh one
                # (a dead server refuses at once; a timeout is never retried). connect() first:
                # a Sentinel-managed connection asks the sentinels for the primary there only.
                conn.disconnect()
                conn.connect()
                conn.send_command(*args)
                return conn.read_response()
        except _OUTAGES as exc:
            if conn is not None:  # back to the pool: get_connection() connects it afresh
                conn.disconnect()
                self._local.conn = None
                self._pool.release(conn)
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
        conn = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = self._local.conn = self._pool.get_connection()
            conn.send_packed_command(conn.pack_commands([("MGET", *chunk) for chunk in chunks]))
            values = [value for chunk in chunks for value in conn.read_response()]
        except _OUTAGES as exc:
            if conn is not None:  # back to the pool: get_connection() connects it afresh
                conn.disconnect()
                self._local.conn = None
                self._pool.release(conn)
            hung = isinstance(exc, redis.TimeoutError | TimeoutError)
            raise L2Unavailable(f"Redis MGET failed: {exc}", timed_out=hung) from None
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
        self._local = threading.local()
        self._pool.disconnect()


def _forget_connections(ref: weakref.ReferenceType[RedisL2]) -> None:
    backend = ref()
    if backend is not None:
        backend._local = threading.local()
