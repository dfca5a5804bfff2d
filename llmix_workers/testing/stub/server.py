"""StubProvider: a real HTTP server on loopback that speaks like an LLM provider.

It answers OpenAI chat completions (``POST /v1/chat/completions`` and ``/chat/completions``)
and Anthropic Messages (``POST /v1/messages``) with deterministic bodies, and plays faults on
demand: queued by ``/_stub/script`` (or :meth:`StubProvider.script`), named by a
``[[stub:…]]`` marker in a prompt, or drawn at a random rate. Control endpoints:
``GET /_stub/calls``, ``GET /_stub/requests``, ``GET /_stub/trace`` (with ``trace=True``: each
call's number, arrival time and client), ``POST /_stub/reset``, ``POST /_stub/script``.

A rejected key gets a 401 whose message repeats the key, as careless providers do, so tests can
show that the client never lets it through.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from llmix_workers.testing.server import PrivateServer
from llmix_workers.testing.stub.connection import serve_connection
from llmix_workers.testing.stub.faults import Fault
from llmix_workers.testing.stub.handler import StubHandler
from llmix_workers.testing.stub.state import StubConfig, StubState

logger = logging.getLogger("llmix_workers.testing.stub")
FaultSpec = Fault | int | str | Mapping[str, Any]
#: Connections waiting to be accepted (the kernel caps it at ``net.core.somaxconn``).
BACKLOG: Final = 4096


class StubProvider(PrivateServer):
    """The stub server: one asyncio event loop serving every connection, so thousands of
    requests can wait out their latency at once; a context manager that runs the loop on a
    background thread.

    ``port=0`` picks a free port; :attr:`base_url` says which. The port is bound when the stub
    is built (``OSError`` if it is taken). Calls are counted exactly whatever the concurrency
    (``calls()``). ``rpm`` / ``tpm`` limit requests and tokens per minute across every caller,
    answering 429 beyond them (:mod:`~llmix_workers.testing.stub.ratelimit`), on ``clock``
    (monotonic seconds). Everything can
    also be driven over HTTP from other processes
    (:class:`~llmix_workers.testing.stub.control.StubControl`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency_ms: int = 0,
        fault_rate: float = 0.0,
        rate_fault: FaultSpec = 503,
        seed: int = 0,
        reject_keys: Iterable[str] = (),
        trace: bool = False,
        rpm: int | None = None,
        tpm: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        config = StubConfig(latency_ms, fault_rate, Fault.parse(rate_fault), seed,
                            frozenset(reject_keys), trace, rpm, tpm)  # fmt: skip
        self.state = StubState(config, clock=clock)
        self.handler = StubHandler(self.state)
        self._socket = socket.create_server((host, port), backlog=BACKLOG)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._socket.getsockname()[0])

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def base_url(self) -> str:
        """``http://host:port``: a provider base URL for both APIs."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> StubProvider:
        """Serve on a daemon thread; returns self once the stub accepts connections."""
        ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve(ready)),
            name=f"llmix-stub-{self.port}",
            daemon=True,
        )
        self._thread.start()
        ready.wait()
        return self

    def serve_forever(self) -> None:
        """Serve on this thread until interrupted (the CLI's way)."""
        try:
            asyncio.run(self._serve(None))
        finally:
            self._socket.close()

    def close(self) -> None:
        """Stop serving, reset every open connection (answers still waiting on their latency
        included), close the listening socket."""
        loop, stop = self._loop, self._stop
        if self._thread is not None and loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
            self._thread.join()
            self._thread = None
        self._socket.close()

    async def _serve(self, ready: threading.Event | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        connections: set[asyncio.Task[None]] = set()

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            connections.add(task)
            try:
                await serve_connection(reader, writer, self.handler.respond)
            except asyncio.CancelledError:
                pass  # the stub is stopping: the connection is closed (reset if busy)
            finally:
                connections.discard(task)

        server = await asyncio.start_server(connected, sock=self._socket, backlog=BACKLOG)
        if ready is not None:
            ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(connections):
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)

    def calls(self) -> dict[str, Any]:
        """Call counts, as ``GET /_stub/calls`` returns them."""
        return self.state.calls()

    def requests(self) -> list[dict[str, Any]]:
        """The last request bodies received, as ``GET /_stub/requests`` returns them."""
        return self.state.recent()

    def trace(self) -> list[dict[str, Any]]:
        """Every traced call, as ``GET /_stub/trace`` returns them (empty unless ``trace``)."""
        return self.state.trace()

    def script(
        self,
        *faults: FaultSpec,
        fault_rate: float | None = None,
        rate_fault: FaultSpec | None = None,
        latency_ms: int | None = None,
        reject_keys: Iterable[str] | None = None,
        limits: tuple[int | None, int | None] | None = None,
    ) -> None:
        """Queue ``faults`` for the next requests, in order, and change standing behaviour;
        ``limits`` sets new (rpm, tpm) limits."""
        self.state.script(
            [Fault.parse(spec) for spec in faults],
            fault_rate=fault_rate,
            rate_fault=None if rate_fault is None else Fault.parse(rate_fault),
            latency_ms=latency_ms,
            reject_keys=reject_keys,
            limits=limits,
        )

    def reset(self) -> None:
        """Zero the counters and drop every script, as ``POST /_stub/reset`` does."""
        self.state.reset()
