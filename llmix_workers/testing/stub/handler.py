"""The stub's HTTP handler: provider APIs, control endpoints, and the faults played on them."""

from __future__ import annotations

import logging
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import orjson

from llmix_workers.testing.stub.answers import (
    ANTHROPIC,
    OPENAI,
    answer,
    conversation,
    error_body,
    request_digest,
    text_of,
)
from llmix_workers.testing.stub.faults import MALFORMED, RESET, SLOW, STATUS, TRUNCATED, Fault
from llmix_workers.testing.stub.state import Received, StubState

logger = logging.getLogger("llmix_workers.testing.stub")

API_PATHS = {
    "/v1/chat/completions": OPENAI,
    "/chat/completions": OPENAI,
    "/v1/messages": ANTHROPIC,
}
STATUS_MESSAGES = {
    400: "Invalid request (stub): the prompt asked for a 400.",
    408: "Request timed out (stub).",
    429: "Rate limit reached (stub). Please try again later.",
    500: "The server had an error while processing your request (stub).",
    502: "Bad gateway (stub).",
    503: "The engine is currently overloaded (stub).",
}


class StubHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; one thread per connection (``ThreadingHTTPServer``)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "llmix-stub/1"
    timeout = 60
    state: StubState
    stopping: threading.Event

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/_stub/calls":
            self._json(200, self.state.calls())
        elif path == "/_stub/requests":
            self._json(200, {"requests": self.state.recent()})
        elif path == "/_stub/trace":
            self._json(200, {"calls": self.state.trace()})
        elif path in ("/", "/_stub/health"):
            self._json(200, {"ok": True})
        else:
            self._json(404, {"error": {"message": f"no such path {path}"}})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body: Any = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            self._json(400, {"error": {"message": "request body is not valid JSON"}})
            return
        if path == "/_stub/reset":
            self.state.reset()
            self._json(200, {"ok": True})
        elif path == "/_stub/script":
            self._script(body)
        elif path in API_PATHS and isinstance(body, dict):
            self._provider(API_PATHS[path], path, body)
        elif path in API_PATHS:
            self._json(400, {"error": {"message": "request body must be a JSON object"}})
        else:
            self._json(404, {"error": {"message": f"no such path {path}"}})

    def _script(self, body: Any) -> None:
        try:
            faults = [Fault.parse(spec) for spec in body.get("faults", [])]
            rate = body.get("fault_rate")
            rate_fault = body.get("rate_fault")
            self.state.script(
                faults,
                fault_rate=None if rate is None else float(rate),
                rate_fault=None if rate_fault is None else Fault.parse(rate_fault),
                latency_ms=body.get("latency_ms"),
                reject_keys=body.get("reject_keys"),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            self._json(400, {"error": {"message": f"bad script: {exc}"}})
            return
        self._json(200, {"ok": True, "queued": len(faults)})

    def _provider(self, api: str, path: str, body: dict[str, Any]) -> None:
        messages = conversation(api, body)
        model = str(body.get("model", ""))
        received = Received(
            path=path,
            digest=request_digest(model, messages),
            model=model,
            key=self._key(api),
            prompt=text_of(messages),
            body=body,
            client=str(self.client_address[0]),
        )
        fault, latency_ms, call = self.state.receive(received)
        delay_ms = latency_ms + (fault.delay_ms if fault.kind == SLOW else 0)
        if delay_ms and self.stopping.wait(delay_ms / 1000):
            self._reset()
            return
        if fault.kind == RESET:
            self._reset()
        elif fault.kind == STATUS:
            message = fault.message or STATUS_MESSAGES.get(
                fault.status, f"Stub error {fault.status}."
            )
            headers = dict(fault.headers)
            if fault.retry_after is not None:
                headers["retry-after"] = fault.retry_after
            self._json(fault.status, error_body(api, fault.status, message), headers)
        elif fault.kind == MALFORMED:
            self._send(200, b'{"id": "stub-malformed", "choices": [{"message": ', {})
        else:
            data = orjson.dumps(answer(api, body, call))
            self._send(200, data, dict(fault.headers), truncate=fault.kind == TRUNCATED)

    def _key(self, api: str) -> str | None:
        if api == ANTHROPIC:
            return self.headers.get("x-api-key")
        auth = self.headers.get("authorization") or ""
        return auth.removeprefix("Bearer ").strip() or None

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, orjson.dumps(data), headers or {})

    def _send(
        self, status: int, data: bytes, headers: dict[str, str], *, truncate: bool = False
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if truncate else data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return
        if truncate:
            self.close_connection = True

    def _reset(self) -> None:
        """Abort the connection with a TCP RST: the client sees a reset, never a response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("stub %s: " + format, self.address_string(), *args)
