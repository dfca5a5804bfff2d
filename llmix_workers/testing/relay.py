"""TcpRelay: a loopback TCP relay whose link can be cut like a dropped network path.

For partition tests without root: point one client at the relay instead of the server. While
the link is cut, the relay forwards nothing and answers nothing (connections stay open, so
clients wait for their socket timeout, as they do when packets are dropped); healing it lets
new connections through again. Connections that lived through a cut are closed at the heal,
as a real peer would reset them. :attr:`TcpRelay.dropped` counts what clients sent while the
link was cut (one read per request a client is left waiting on: each costs it a timeout).
:meth:`TcpRelay.die_after_reply_to` plays a server that dies right after answering one request:
every connection is reset and new ones are refused, until :meth:`TcpRelay.heal`.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

from llmix_workers.testing.redis_server import free_port

_CHUNK = 65536


class TcpRelay:
    """Relays ``127.0.0.1:<port>`` to ``target``. Thread-safe; ``close`` when done."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._cut = threading.Event()
        self._dead = threading.Event()
        self._fatal: bytes | None = None
        self._fatal_reply = b""
        self._answering: set[socket.socket] = set()  # upstreams owing the fatal request's reply
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        #: Reads from clients dropped while the link was cut (a request each, pipelines as one).
        self.dropped = 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="tcp-relay", daemon=True)
        self._thread.start()

    @property
    def is_cut(self) -> bool:
        return self._cut.is_set()

    def cut(self) -> None:
        """Drop everything from now on: nothing is forwarded, nothing answered."""
        self._cut.set()

    def die_after_reply_to(self, request: bytes, reply_starts: bytes = b"") -> None:
        """Arm: the next request containing ``request`` (a command's name as sent, say
        ``b"BRPOP"``) whose reply starts with ``reply_starts`` (``b"*2"``: a popped element,
        not a timeout's nil) is answered, then every connection is reset and new ones
        refused. Other replies to it go through and leave the relay armed."""
        with self._lock:
            self._fatal = request
            self._fatal_reply = reply_starts

    @property
    def is_dead(self) -> bool:
        return self._dead.is_set()

    def heal(self) -> None:
        """Forward again; connections that saw the cut (or the death) are reset."""
        with self._lock:
            stale, self._sockets = self._sockets, []
            self._fatal = None
            self._answering.clear()
        for sock in stale:
            _close(sock)
        self._cut.clear()
        self._dead.clear()

    def die(self) -> None:
        """Reset every connection and refuse new ones, as a dead server does, until :meth:`heal`."""
        self._die(keep=())

    def _die(self, keep: tuple[socket.socket, ...]) -> None:
        with self._lock:
            stale = [sock for sock in self._sockets if sock not in keep]
            self._sockets = list(keep)
            self._dead.set()
        for sock in stale:
            _close(sock)

    def close(self) -> None:
        self._closed = True
        _close(self._listener)
        self.heal()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._dead.is_set():
                _close(client)  # refused: nothing listens behind a dead server
                continue
            if self._cut.is_set():
                with self._lock:
                    self._sockets.append(client)  # held open, never answered
                threading.Thread(target=self._drain, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink, upward in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(source, sink, upward),
                                 daemon=True).start()  # fmt: skip

    def _pump(self, source: socket.socket, sink: socket.socket, upward: bool) -> None:
        try:
            while data := source.recv(_CHUNK):
                if self._cut.is_set():
                    if upward:
                        self._count_drop()
                    continue  # dropped on the floor
                if upward:
                    self._watch_request(sink, data)
                elif source in self._answering and self._is_fatal(source, data):
                    self._die(keep=(source, sink))  # dead to everyone else before it is out
                    sink.sendall(data)  # the fatal reply (this small, it fits a read)
                    break
                sink.sendall(data)
        except OSError:
            pass
        if not self._cut.is_set():
            _close(sink)

    def _watch_request(self, upstream: socket.socket, data: bytes) -> None:
        with self._lock:
            if self._fatal is not None and self._fatal in data:
                self._answering.add(upstream)

    def _is_fatal(self, upstream: socket.socket, reply: bytes) -> bool:
        """Whether ``reply``, owed by ``upstream`` to the armed request, kills the server."""
        with self._lock:
            self._answering.discard(upstream)
            if self._fatal is None or not reply.startswith(self._fatal_reply):
                return False  # another reply (a nil, say): still armed
            self._fatal = None
            return True

    def _drain(self, client: socket.socket) -> None:
        """Read (and count, and drop) what a client sends on a connection made while cut."""
        try:
            while client.recv(_CHUNK):
                self._count_drop()
        except OSError:
            pass

    def _count_drop(self) -> None:
        with self._lock:
            self.dropped += 1

    def __enter__(self) -> TcpRelay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
