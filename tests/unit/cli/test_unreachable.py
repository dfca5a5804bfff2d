"""Issue 14 defect 1: an unreachable Redis or broker is one line, exit 2, no password."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from llmix_workers.testing.redis_server import free_port
from llmix_workers.testing.stub import StubProvider
from tests.unit.cli.support import one_line_error, run_cli

PASSWORD = "hunter2-sekrit"


@pytest.fixture
def dead_url() -> str:
    return f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"


@pytest.fixture
def http_port() -> Iterator[int]:
    """A port that answers HTTP, not Redis (the stub provider)."""
    with StubProvider() as stub:
        yield int(stub.base_url.rsplit(":", 1)[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize(
    "args",
    [
        ("cache", "stats"),
        ("cache", "clear"),
        ("enqueue", "hello", "--wait"),
        ("enqueue", "hello"),
        ("workers",),
        ("purge", "--yes"),
    ],
)
def test_unreachable_redis_is_one_line_naming_it(dead_url: str, args: tuple[str, ...]) -> None:
    done = run_cli(*args, env={"REDIS_URL": dead_url})
    line = one_line_error(done)
    port = dead_url.rsplit(":", 1)[1].split("/")[0]
    assert f"127.0.0.1:{port}" in line
    assert PASSWORD not in done.stderr + done.stdout
    assert "generation None" not in done.stdout


def test_a_port_that_is_not_redis_is_one_line(http_port: int) -> None:
    done = run_cli(
        "enqueue", "hello", "--wait",
        env={"REDIS_URL": f"redis://127.0.0.1:{http_port}/0"},
    )  # fmt: skip
    line = one_line_error(done)
    assert f"127.0.0.1:{http_port}" in line


def test_a_port_that_never_answers_is_one_line(silent_port: int) -> None:
    done = run_cli("cache", "stats", env={"REDIS_URL": f"redis://127.0.0.1:{silent_port}/0"})
    line = one_line_error(done)
    assert f"127.0.0.1:{silent_port}" in line and "Timeout" in line


def test_an_unreachable_amqp_broker_is_one_line() -> None:
    port = free_port()
    done = run_cli(
        "enqueue", "hello",
        env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
             "LLMIX_WORKER__BROKER_URL": f"amqp://guest:{PASSWORD}@127.0.0.1:{port}//"},
    )  # fmt: skip
    line = one_line_error(done)
    assert f"amqp://guest:****@127.0.0.1:{port}//" in line and PASSWORD not in done.stderr
