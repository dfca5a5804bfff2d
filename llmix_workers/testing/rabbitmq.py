"""PrivateVhost: a RabbitMQ virtual host of a test's own, created and deleted by the test.

Uses ``rabbitmqctl`` when it is on ``PATH`` (it needs the rights to talk to the node: root or
the ``rabbitmq`` user), else the management HTTP API on port 15672 with the same credentials.
The broker itself is the machine's (``127.0.0.1:5672`` by default); nothing else is touched.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import uuid
from typing import Self
from urllib.parse import quote

import httpx

from llmix_workers.errors import ConfigError
from llmix_workers.testing.server import PrivateServer


def rabbitmq_reachable(host: str = "127.0.0.1", port: int = 5672) -> bool:
    """Whether something accepts TCP connections on the AMQP port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class PrivateVhost(PrivateServer):
    """A fresh virtual host on which ``user`` has every permission (context manager)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 5672,
        user: str = "guest",
        password: str = "guest",
        management_port: int = 15672,
    ) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.name = f"llmix-test-{uuid.uuid4().hex[:12]}"
        self._api = f"http://{host}:{management_port}/api"
        self._ctl = shutil.which("rabbitmqctl")

    @property
    def url(self) -> str:
        """``amqp://user:password@host:port/<vhost>`` (clear text: tests only)."""
        return f"amqp://{self.user}:{self.password}@{self.host}:{self.port}/{quote(self.name)}"

    def start(self) -> Self:
        """The same as :meth:`create` (the :class:`PrivateServer` shape)."""
        return self.create()

    def close(self) -> None:
        """The same as :meth:`delete`."""
        self.delete()

    def create(self) -> Self:
        """Raises: ConfigError: neither rabbitmqctl nor the management API could do it."""
        if self._ctl:
            self._run("add_vhost", self.name)
            self._run("set_permissions", "-p", self.name, self.user, ".*", ".*", ".*")
        else:
            self._http("PUT", f"/vhosts/{quote(self.name, safe='')}")
            self._http("PUT", f"/permissions/{quote(self.name, safe='')}/{self.user}",
                       {"configure": ".*", "write": ".*", "read": ".*"})  # fmt: skip
        return self

    def delete(self) -> None:
        """Delete the virtual host and every queue and exchange in it (best effort)."""
        try:
            if self._ctl:
                self._run("delete_vhost", self.name)
            else:
                self._http("DELETE", f"/vhosts/{quote(self.name, safe='')}")
        except ConfigError:
            pass

    def _run(self, *args: str) -> None:
        assert self._ctl is not None
        done = subprocess.run([self._ctl, *args], capture_output=True, timeout=60)
        if done.returncode != 0:
            raise ConfigError(f"rabbitmqctl {args[0]} failed: {done.stderr.decode()[-300:]}")

    def _http(self, method: str, path: str, body: dict[str, str] | None = None) -> None:
        try:
            response = httpx.request(method, self._api + path, json=body, timeout=10,
                                     auth=(self.user, self.password))  # fmt: skip
        except httpx.HTTPError as exc:
            raise ConfigError(f"no rabbitmqctl and no management API: {exc}") from None
        if response.status_code >= 300:
            raise ConfigError(f"management API {method} {path}: HTTP {response.status_code}")
