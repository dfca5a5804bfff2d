"""The harness itself: links cut exactly one pair of hosts, heal, and leave nothing behind; the
skewed clock moves while the process runs. Needs root (see conftest)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmix_workers.testing.nemesis import skew
from llmix_workers.testing.nemesis.netns import PREFIX, NetLab, clean_stale, namespaces
from tests.nemesis.conftest import need

pytestmark = pytest.mark.nemesis


@pytest.fixture
def lab(netns: None) -> Iterator[NetLab]:
    lab = NetLab()
    yield lab
    lab.close()


def serve(lab: NetLab, role: str) -> int:
    """A TCP server inside ``role`` that answers every connection with ``role``; its port."""
    listener = lab.hosts[role].call(socket.create_server, ("0.0.0.0", 0))

    def answer() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(role.encode())

    threading.Thread(target=answer, daemon=True).start()
    return int(listener.getsockname()[1])


def reaches(lab: NetLab, source: str, target: str, port: int) -> bool:
    def attempt() -> bool:
        try:
            with socket.create_connection((lab.hosts[target].address, port), timeout=0.5) as c:
                return c.recv(16) == target.encode()
        except OSError:
            return False

    return lab.hosts[source].call(attempt)


def test_a_cut_separates_exactly_one_pair_and_heals(lab: NetLab) -> None:
    for role in ("cache", "broker", "w1", "w2"):
        lab.add_host(role)
    for worker in ("w1", "w2"):
        lab.connect(worker, "cache")
        lab.connect(worker, "broker")
    cache, broker = serve(lab, "cache"), serve(lab, "broker")
    assert reaches(lab, "w1", "cache", cache) and reaches(lab, "w2", "cache", cache)
    assert not reaches(lab, "cache", "broker", broker)  # no link, no route
    lab.cut("w1", "cache")
    assert not reaches(lab, "w1", "cache", cache)
    assert reaches(lab, "w1", "broker", broker)  # the broker stays reachable
    assert reaches(lab, "w2", "cache", cache)  # and the other worker is untouched
    lab.heal("w1", "cache")
    assert reaches(lab, "w1", "cache", cache)


def test_this_process_stays_outside_the_hosts(lab: NetLab) -> None:
    lab.add_host("cache")
    port = serve(lab, "cache")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    inside = lab.hosts["cache"].call(lambda: socket.create_connection(("127.0.0.1", port), 0.5))
    with inside:
        assert inside.recv(16) == b"cache"


def test_close_removes_the_namespaces_and_what_runs_in_them(netns: None) -> None:
    lab = NetLab()
    host = lab.add_host("w1")
    sleeper = host.popen(["sleep", "300"])
    names = [host.ns]
    lab.close()
    assert sleeper.wait(10) == -9
    assert not set(names) & set(namespaces())


def test_stale_namespaces_of_dead_owners_are_removed(netns: None) -> None:
    dead = 2**22 + 12345  # above the default pid_max: never a live process
    stale = f"{PREFIX}{dead}-test-w1"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    mine = NetLab()
    try:
        mine.add_host("w1")
        removed = clean_stale()
        assert stale in removed
        assert stale not in namespaces()
        assert mine.hosts["w1"].ns in namespaces()  # a live owner's namespace stays
    finally:
        mine.close()
        subprocess.run(["ip", "netns", "del", stale], capture_output=True, check=False)


def test_skewed_clock_moves_while_the_process_runs(tmp_path: Path) -> None:
    need(skew.library)
    offset = tmp_path / "clock"
    probe = (
        "import sys, time\n"
        "for line in sys.stdin:\n"
        "    time.sleep(0.01)\n"  # the replaced sleep: libfaketime would fail it with EINVAL
        "    print(repr(time.time()), flush=True)\n"
    )
    env = {**os.environ, **skew.environment(offset)}
    boot = skew.BOOT.replace("from llmix_workers.cli import main\nmain()", probe)
    child = subprocess.Popen([sys.executable, "-c", boot], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert child.stdin is not None and child.stdout is not None

    def skewed_by(seconds: int) -> bool:
        """Whether the child's clock reads true time + ``seconds``: its reading, taken between
        the question and the answer, is compared with that interval (not with one instant, which
        a loaded machine can delay by more than a second: CI ci14)."""
        assert child.stdin is not None and child.stdout is not None
        asked = time.time()
        child.stdin.write("now\n")
        child.stdin.flush()
        reading = float(child.stdout.readline())
        answered = time.time()
        return asked - 0.05 <= reading - seconds <= answered + 0.05

    try:
        assert skewed_by(0)
        skew.set_offset(offset, -300)
        deadline = time.monotonic() + 30
        while not skewed_by(-300):
            assert time.monotonic() < deadline, "the offset file was never read again"
            time.sleep(0.2)
        skew.set_offset(offset, 0)
        deadline = time.monotonic() + 30
        while not skewed_by(0):
            assert time.monotonic() < deadline, "the clock never came back"
            time.sleep(0.2)
    finally:
        child.stdin.close()
        child.wait(10)
        child.stdout.close()
