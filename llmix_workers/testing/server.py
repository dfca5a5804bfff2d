"""PrivateServer: the one start/stop shape of every server a test owns (Redis, a cluster, a
Sentinel set, a RabbitMQ virtual host, Prometheus).

``start()`` returns the server once it answers (or raises ``ConfigError`` saying what is missing);
``close()`` stops it and removes what it wrote, and may be called twice; ``with`` does both.
Each lives on free loopback ports (or a private virtual host) and is private to its test process.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class PrivateServer:
    """Base of the private servers: subclasses implement :meth:`start` and :meth:`close`."""

    def start(self) -> Self:
        """Start the server and wait until it answers; return it."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the server and remove what it wrote (idempotent)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
