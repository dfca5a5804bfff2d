"""PrivateRabbit: a RabbitMQ node of the fault suite's own, so it can be restarted freely.

The machine's RabbitMQ (127.0.0.1:5672) is shared with everyone else on it; restarting it would
break them, and ``rabbitmqctl restart_vhost`` does nothing to a running virtual host. So the
broker-restart scenario starts a second node (``rabbitmq-server`` with its own node name, ports
and data directory, running as the ``rabbitmq`` user as the Debian package does) and stops and
starts that one. Its data directory survives the restart, which is the point.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from llmix_workers.testing.redis_server import free_port

INSTALL_HINT = "the broker tests need RabbitMQ: apt-get install rabbitmq-server"


class PrivateRabbit:
    """One RabbitMQ node on a free loopback port (guest/guest, vhost ``/``)."""

    def __init__(self) -> None:
        if not shutil.which("rabbitmq-server") or not shutil.which("rabbitmqctl"):
            raise AssertionError(INSTALL_HINT)
        self.port = free_port()
        self.node = f"llmixfaults{uuid.uuid4().hex[:8]}@localhost"
        self._dir = Path(tempfile.mkdtemp(prefix="llmix-rabbit-"))
        (self._dir / "plugins").write_text("[].\n")
        (self._dir / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{self.port}\n")
        for path in (self._dir, self._dir / "plugins", self._dir / "rabbitmq.conf"):
            shutil.chown(path, "rabbitmq", "rabbitmq")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self._dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self._dir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self._dir / "plugins"),
            "RABBITMQ_PID_FILE": str(self._dir / "pid"),
            "RABBITMQ_CONFIG_FILE": str(self._dir / "rabbitmq.conf"),
        }
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self, timeout_s: float = 60.0) -> PrivateRabbit:
        """Start the node and wait until it accepts AMQP connections."""
        with (self._dir / "server.log").open("ab") as log:
            self._process = subprocess.Popen(
                ["rabbitmq-server"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                cwd=self._dir, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._process.poll() is None:
            if self._ctl("await_startup", "--timeout", "5").returncode == 0 and self._open():
                return self
            time.sleep(0.5)
        raise AssertionError(f"RabbitMQ node {self.node} did not start: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the node (a clean broker restart keeps durable queues and persistent messages)."""
        self._ctl("stop")
        if self._process is not None:
            self._process.wait(30)
        deadline = time.monotonic() + 30
        while self._open() and time.monotonic() < deadline:
            time.sleep(0.2)

    def queue_depth(self, queue: str) -> int:
        """Messages ready in ``queue`` (0 when it does not exist)."""
        out = self._ctl("list_queues", "name", "messages", "--quiet", "--no-table-headers")
        for line in out.stdout.splitlines():
            name, _, count = line.strip().rpartition("\t")
            if name == queue:
                return int(count)
        return 0

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def log_tail(self) -> str:
        path = self._dir / "server.log"
        return path.read_text(errors="replace")[-1500:] if path.exists() else ""

    def _ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["rabbitmqctl", "-n", self.node, *args], env=self.env, capture_output=True,
            text=True, timeout=60, check=False,
        )  # fmt: skip

    def _open(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False
