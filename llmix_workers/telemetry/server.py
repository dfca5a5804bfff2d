"""MetricsServer: one HTTP endpoint per worker node for ``/metrics``, ``/healthz``, ``/readyz``.

Runs in a daemon thread of the node's main process. ``/metrics`` exposes the registry it is
given: the process registry for the threads and solo pools,
:func:`~llmix_workers.telemetry.multiprocess.multiprocess_registry` for prefork.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from llmix_workers.errors import ConfigError
from llmix_workers.telemetry.health import HealthState

if TYPE_CHECKING:
    from llmix_workers.settings import TelemetrySettings


class MetricsServer:
    """Serves one node's metrics and health on ``host:port`` (port 0: any free port).

    ``/metrics`` answers in the text format, or OpenMetrics when the scraper asks for it;
    ``/healthz`` and ``/readyz`` answer 200 or 503 with a one-line plain-text reason; anything
    else is 404. Use as a context manager or pair :meth:`start` with :meth:`close`, which takes
    up to ``poll_interval_s`` to stop the serving thread.
    """

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        health: HealthState,
        *,
        poll_interval_s: float = 0.5,
    ) -> None:
        self._httpd = ThreadingHTTPServer((host, port), _handler(registry, health))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            args=(poll_interval_s,),
            name="llmix-metrics",
            daemon=True,
        )

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self._httpd.server_address[1])

    @property
    def serving(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port; returns once the serving thread has ended."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def bind_metrics_server(
    section: TelemetrySettings, registry: CollectorRegistry, health: HealthState
) -> MetricsServer | None:
    """The node's server bound to ``metrics_host:metrics_port``, not serving yet (call
    :meth:`MetricsServer.start`); ``None`` when the port is 0.

    Raises:
        ConfigError: the address cannot be bound (port taken, host unknown); names the settings.
    """
    if section.metrics_port == 0:
        return None
    try:
        return MetricsServer(section.metrics_host, section.metrics_port, registry, health)
    except OSError as exc:
        where = f"{section.metrics_host}:{section.metrics_port}"
        raise ConfigError(
            f"telemetry.metrics_port: cannot serve metrics on {where}: {exc.strerror or exc}"
        ) from None


def _handler(registry: CollectorRegistry, health: HealthState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                try:
                    body = encoder(registry)
                except Exception as exc:
                    reason = f"collecting metrics failed ({type(exc).__name__})\n"
                    self._send(500, "text/plain; charset=utf-8", reason.encode())
                    return
                self._send(200, content_type, body)
            elif path in ("/healthz", "/readyz"):
                ok, reason = health.liveness() if path == "/healthz" else health.readiness()
                self._send(200 if ok else 503, "text/plain; charset=utf-8", reason.encode() + b"\n")
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler
