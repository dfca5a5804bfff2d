"""ThreadConnections: one pooled connection per thread, for the commands on a job's path.

A command is one send and one read on a connection the calling thread keeps, which skips the
pool's lock and redis-py's per-command dispatch (about half the client-side cost of
``Redis.execute_command``, and more for a ``Lock`` or a ``Script``). A connection that outlived
a Redis restart fails once and is redone on a fresh one (a dead server refuses at once; a
timeout is never retried); any other failure gives the connection back to the pool,
disconnected, and is raised as redis-py raised it. Forked children start without connections.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import redis

_OUTAGES = (redis.ConnectionError, redis.TimeoutError, OSError)


class ThreadConnections:
    """Per-thread connections of ``pool`` (a standalone or Sentinel pool). Thread-safe.

    ``keep=False`` borrows a connection from the pool for each call and gives it back, for
    commands that are rarer than a thread's lifetime needs a connection for (the fleet lock):
    the same raw send and read, without one more connection per task thread."""

    def __init__(self, pool: redis.ConnectionPool, *, keep: bool = True) -> None:
        self.pool = pool
        self._keep = keep
        self._local = threading.local()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget(ref))

    def command(self, *args: Any) -> Any:
        """Send one command, return its reply (``redis.ResponseError`` for an error reply)."""
        conn = self._take()
        try:
            try:
                conn.send_command(*args)
                return conn.read_response()
            except redis.ConnectionError:
                # connect() first: a Sentinel-managed connection asks for the primary there
                conn.disconnect()
                conn.connect()
                conn.send_command(*args)
                return conn.read_response()
        except _OUTAGES:
            self._drop(conn)
            raise
        finally:
            if not self._keep:
                self.pool.release(conn)

    def pipeline(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Send ``commands`` in one round trip; their replies in order (an error reply is
        returned as its ``ResponseError``, not raised)."""
        conn = self._take()
        try:
            conn.send_packed_command(conn.pack_commands(commands))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(conn.read_response())
                except redis.ResponseError as error:
                    replies.append(error)
            return replies
        except _OUTAGES:
            self._drop(conn)
            raise
        finally:
            if not self._keep:
                self.pool.release(conn)

    def _take(self) -> Any:
        conn = getattr(self._local, "conn", None) if self._keep else None
        if conn is None:
            conn = self.pool.get_connection()
            if self._keep:
                self._local.conn = conn
        return conn

    def _drop(self, conn: Any) -> None:
        """Disconnect ``conn`` after a failure; a kept one goes back to the pool
        (``get_connection()`` connects it afresh), a borrowed one is given back by the caller."""
        conn.disconnect()
        if self._keep:
            self._local.conn = None
            self.pool.release(conn)

    def close(self) -> None:
        self._local = threading.local()
        self.pool.disconnect()


def _forget(ref: weakref.ReferenceType[ThreadConnections]) -> None:
    connections = ref()
    if connections is not None:
        connections._local = threading.local()
