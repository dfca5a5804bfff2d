"""The harness pieces that keep tests reliable on a loaded machine: eventually() and free_port()."""

from __future__ import annotations

import itertools
import socket

import pytest

from llmix_workers.testing.redis_server import _ephemeral_range, free_port
from llmix_workers.testing.waiting import NeverHappened, eventually


def test_eventually_returns_the_first_true_value() -> None:
    counter = itertools.count()
    assert eventually(lambda: next(counter) >= 3 and "done", "the third call") == "done"


def test_eventually_names_what_never_happened_and_the_last_error() -> None:
    def refuses() -> bool:
        raise ConnectionRefusedError("nobody home")

    with pytest.raises(NeverHappened, match=r"not within 0.2 s: the server answers.*nobody home"):
        eventually(refuses, "the server answers", timeout_s=0.2, ignoring=(OSError,))


def test_eventually_lets_other_errors_through() -> None:
    def broken() -> bool:
        raise KeyError("a bug, not a wait")

    with pytest.raises(KeyError):
        eventually(broken, "never", timeout_s=5, ignoring=(OSError,))


def test_free_ports_are_bindable_distinct_and_below_the_ephemeral_range() -> None:
    low, _ = _ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(port < low for port in ports), ports
    for port in ports[:5]:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))
