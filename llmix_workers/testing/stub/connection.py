"""One HTTP/1.1 connection of the stub: parse with h11, ask the handler, write the reply.

Keep-alive, one request at a time per connection (no pipelining), bounded buffers: headers up
to :data:`MAX_HEADER_BYTES`, a body up to :data:`MAX_BODY_BYTES` (else 413), reads of
:data:`READ_BYTES` at most. A connection idle for :data:`IDLE_TIMEOUT_S` is closed. A task
cancelled while it handles a request (the stub is stopping) resets its connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Final
from urllib.parse import urlsplit

import h11

from llmix_workers.testing.stub.handler import ABORT, CUT, Reply, StubRequest, json_reply

logger = logging.getLogger("llmix_workers.testing.stub")

MAX_HEADER_BYTES: Final = 64 * 1024
MAX_BODY_BYTES: Final = 32 * 1024 * 1024
READ_BYTES: Final = 64 * 1024
IDLE_TIMEOUT_S: Final = 60.0
SERVER: Final = b"llmix-stub/1"

Respond = Callable[[StubRequest], Awaitable[Reply]]


class _TooLarge(Exception):
    pass


async def serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, respond: Respond
) -> None:
    """Serve requests on one connection until the client closes it or a reply ends it."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
    try:
        while True:
            try:
                request = await _read_request(conn, reader)
            except (h11.RemoteProtocolError, _TooLarge) as exc:
                status = 413 if isinstance(exc, _TooLarge) else 400
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    reply = json_reply(status, {"error": {"message": f"bad request: {exc}"}})
                    _write(conn, writer, reply, close=True)
                    await writer.drain()
                return
            if request is None:
                return
            try:
                reply = await respond(request)
            except asyncio.CancelledError:
                _reset(writer)
                raise
            if reply.end == ABORT:
                _reset(writer)
                return
            _write(conn, writer, reply, close=False)
            await writer.drain()
            if reply.end == CUT or conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()
    except (ConnectionError, TimeoutError, OSError):
        return
    finally:
        writer.close()


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> StubRequest | None:
    """The next complete request, or ``None`` when the client closed the connection."""
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            async with asyncio.timeout(IDLE_TIMEOUT_S):
                data = await reader.read(READ_BYTES)
            conn.receive_data(data)
            if not data and conn.their_state is h11.IDLE:
                return None
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY_BYTES:
                raise _TooLarge(f"body over {MAX_BODY_BYTES} bytes")
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            headers = {name.decode("latin-1"): value.decode("latin-1")
                       for name, value in head.headers}  # fmt: skip
            path = urlsplit(head.target.decode("latin-1")).path
            return StubRequest(head.method.decode("ascii"), path, headers, bytes(body))
        elif isinstance(event, h11.ConnectionClosed):
            return None


def _write(
    conn: h11.Connection, writer: asyncio.StreamWriter, reply: Reply, *, close: bool
) -> None:
    body = reply.body
    headers = [
        (b"server", SERVER),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(name.encode("latin-1"), value.encode("latin-1"))
                for name, value in reply.headers.items()]  # fmt: skip
    if close:
        headers.append((b"connection", b"close"))
    head = h11.Response(status_code=reply.status, headers=headers, reason=_reason(reply.status))
    out = conn.send(head) or b""
    if reply.end == CUT:
        out += conn.send(h11.Data(data=body[: len(body) // 2])) or b""
    else:
        out += conn.send(h11.Data(data=body)) or b""
        out += conn.send(h11.EndOfMessage()) or b""
    writer.write(out)


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a TCP RST: the client sees a reset, never a response."""
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()
