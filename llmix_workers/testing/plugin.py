"""The pytest plugin of llmix_workers: fixtures for tests of code built on the package.

Registered as a ``pytest11`` entry point, so installing ``llmix_workers[testing]`` makes these
available to any test (names start with ``llmix_`` so they never shadow a project's own):

- ``llmix_redis`` (session): a private ``redis-server`` on a free loopback port;
  ``llmix_redis_url``: its URL, emptied for each test;
- ``llmix_stub`` (session): the stub LLM provider, a real HTTP server on loopback;
- ``llmix_fake_client``: a scripted in-process ``LLMClient``; ``llmix_clock``: a hand-cranked clock;
- ``llmix_fleet`` (module): a :class:`~llmix_workers.testing.local_fleet.LocalFleet` (private
  Redis, the stub provider) to start real worker processes on;
- ``llmix_topology`` (module): each topology of the matrix in turn (standalone, Sentinel,
  Cluster, RabbitMQ; see :mod:`~llmix_workers.testing.topology`), or only the one a module's
  ``TOPOLOGY`` names; ``llmix_topology_servers`` (session): the servers behind them.

A failed test whose report shows an unclosed socket (a ResourceWarning, which a suite that
turns warnings into errors raises in whichever later test collects the garbage) gets a section
naming the test that drew each of the socket's ports from ``free_port``: the likely leaker.

A topology whose servers cannot run here (RabbitMQ not reachable) skips its tests, or fails
them when the environment says ``CI=true``. The L2 contract suite is a class to subclass:
:class:`~llmix_workers.testing.l2_contract.L2BackendContract`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from llmix_workers.errors import ConfigError
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.fake_client import FakeClient
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.testing.redis_server import PrivateRedis, drawn_by, local_client
from llmix_workers.testing.stub import StubProvider
from llmix_workers.testing.topology import (
    TOPOLOGIES,
    Topology,
    TopologyServers,
    TopologyUnavailable,
)


@pytest.fixture(scope="session")
def llmix_redis() -> Iterator[PrivateRedis]:
    """A private redis-server for the session."""
    try:
        server = PrivateRedis().start()
    except ConfigError as exc:
        pytest.fail(f"llmix_redis needs a redis-server: {exc}")
    yield server
    server.close()


@pytest.fixture
def llmix_redis_url(llmix_redis: PrivateRedis) -> str:
    """The private Redis's URL, emptied first."""
    client = local_client(llmix_redis.port, timeout_s=10)
    client.flushall()
    client.close()
    return llmix_redis.url


@pytest.fixture(scope="session")
def llmix_stub() -> Iterator[StubProvider]:
    """The stub LLM provider (OpenAI-compatible and Anthropic APIs) on a loopback port."""
    with StubProvider() as stub:
        yield stub


@pytest.fixture
def llmix_fake_client() -> FakeClient:
    """A scripted in-process LLM client (answers echo the request by default)."""
    return FakeClient()


@pytest.fixture
def llmix_clock() -> FakeClock:
    """A hand-cranked clock (``tick(seconds)``) for the parts that take one."""
    return FakeClock()


@pytest.fixture(scope="module")
def llmix_fleet() -> Iterator[LocalFleet]:
    """A local fleet for the module: a private Redis and the stub provider; start workers with
    ``llmix_fleet.add_worker(name)``; everything stops after the module."""
    with LocalFleet() as fleet:
        yield fleet


@pytest.fixture(scope="session")
def llmix_topology_servers() -> Iterator[TopologyServers]:
    """The servers behind every topology, started when a test first needs them."""
    servers = TopologyServers()
    yield servers
    servers.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module that asks for ``llmix_topology`` runs once per topology, or only on the one its
    ``TOPOLOGY`` names."""
    if "llmix_topology" in metafunc.fixturenames:
        one = getattr(metafunc.module, "TOPOLOGY", None)
        names = [one] if one else list(TOPOLOGIES)
        metafunc.parametrize("llmix_topology", names, indirect=True, scope="module")


@pytest.fixture(scope="module")
def llmix_topology(
    request: pytest.FixtureRequest, llmix_topology_servers: TopologyServers
) -> Topology:
    """A topology of the matrix, its servers running and empty."""
    try:
        return llmix_topology_servers.topology(request.param)
    except TopologyUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{exc}; CI=true makes this a failure")
        pytest.skip(str(exc))
    except ConfigError as exc:
        pytest.fail(f"the {request.param} topology needs its servers: {exc}")


#: An address in a socket's repr, as ``ResourceWarning: unclosed <socket.socket ...>`` shows it.
_SOCKET_ADDRESS = re.compile(r"[lr]addr=\('[^']*', (\d+)\)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Name the tests that drew the ports of an unclosed socket the failure reports."""
    report = yield
    if report.failed and "unclosed <socket" in report.longreprtext:
        ports = sorted({int(p) for p in _SOCKET_ADDRESS.findall(report.longreprtext)})
        drawn = [f"port {port} was drawn by {by or 'code outside any test'}"
                 for port in ports if (by := drawn_by(port)) is not None]  # fmt: skip
        if drawn:
            report.sections.append(("unclosed socket: whose server it reached", "\n".join(drawn)))
    return report
