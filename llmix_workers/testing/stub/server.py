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

import logging
import socketserver
import threading
from collections.abc import Iterable, Mapping
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from llmix_workers.testing.stub.faults import Fault
from llmix_workers.testing.stub.handler import StubHandler
from llmix_workers.testing.stub.state import StubConfig, StubState

logger = logging.getLogger("llmix_workers.testing.stub")
FaultSpec = Fault | int | str | Mapping[str, Any]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skips HTTPServer's reverse DNS lookup
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("stub: connection from %s ended with an error", client_address, exc_info=True)


class StubProvider:
    """The stub server; a context manager that starts it on a background thread.

    ``port=0`` picks a free port; :attr:`base_url` says which. Calls are counted exactly
    whatever the concurrency (``calls()``), and everything can also be driven over HTTP from
    other processes (:class:`~llmix_workers.testing.stub.control.StubControl`).
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
    ) -> None:
        config = StubConfig(
            latency_ms, fault_rate, Fault.parse(rate_fault), seed, frozenset(reject_keys), trace
        )
        self.state = StubState(config)
        self._stopping = threading.Event()
        handler = type(
            "BoundStubHandler", (StubHandler,), {"state": self.state, "stopping": self._stopping}
        )
        self._server = _Server((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port``: a provider base URL for both APIs."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> StubProvider:
        """Serve on a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"llmix-stub-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on this thread until interrupted (the CLI's way)."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._stopping.set()
            self._server.server_close()

    def close(self) -> None:
        """Stop serving, wake slow responses (they reset), close the listening socket."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

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
    ) -> None:
        """Queue ``faults`` for the next requests, in order, and change standing behaviour."""
        self.state.script(
            [Fault.parse(spec) for spec in faults],
            fault_rate=fault_rate,
            rate_fault=None if rate_fault is None else Fault.parse(rate_fault),
            latency_ms=latency_ms,
            reject_keys=reject_keys,
        )

    def reset(self) -> None:
        """Zero the counters and drop every script, as ``POST /_stub/reset`` does."""
        self.state.reset()

    def __enter__(self) -> StubProvider:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
