"""NetLab: hosts as Linux network namespaces, joined pair by pair by veth links that can be cut.

Every host gets a service address (``10.77.0.N/32`` on its loopback) that the others reach
through a point-to-point link of their own (``10.78.L.0/30``), and connections leave from that
address too (so a server sees, and announces, the service address of its peers: a replica is
known by its host's address, the stub sees which worker called). Cutting one link (a
``pfifo limit 0`` root qdisc on both ends drops every packet; deleting it heals) separates
exactly one pair of hosts: a worker from the cache Redis while it still reaches the broker,
say. No interface lives outside the run's namespaces, so parallel runs cannot collide; their
namespace names carry the owner's pid (``nmz-<pid>-<token>-<host>``) and :func:`clean_stale`
removes those of dead owners, with whatever still runs in them.

This process enters a host through :meth:`Host.call`: the function runs on a thread that joined
the namespace (``setns``), so sockets it opens and processes it starts live there.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from llmix_workers.errors import LlmixError

T = TypeVar("T")
#: Every namespace this harness makes starts with this.
PREFIX: Final = "nmz-"
_CLONE_NEWNET: Final = 0x40000000
_NETNS_DIR: Final = "/run/netns"


class NetnsUnavailable(LlmixError):
    """Raised when this machine cannot give the nemesis network namespaces (says what to do)."""


def require_netns() -> None:
    """Check for root, ``ip`` and ``tc``, and that a namespace can be made and removed.

    Raises:
        NetnsUnavailable: naming what is missing.
    """
    if os.geteuid() != 0:
        raise NetnsUnavailable("the nemesis needs root (ip netns, tc): run as root")
    for tool, package in (("ip", "iproute2"), ("tc", "iproute2")):
        if shutil.which(tool) is None:
            raise NetnsUnavailable(f"the nemesis needs `{tool}`: apt install {package}")
    probe = f"{PREFIX}{os.getpid()}-probe{secrets.token_hex(2)}"
    try:
        _ip("netns", "add", probe)
        _ip("-n", probe, "link", "set", "lo", "up")
        _run("tc", "-n", probe, "qdisc", "add", "dev", "lo", "root", "pfifo", "limit", "0")
    except NetnsUnavailable as exc:
        raise NetnsUnavailable(
            f"cannot make a network namespace with a qdisc here: {exc}"
        ) from None
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)


def clean_stale(prefix: str = PREFIX) -> list[str]:
    """Remove the namespaces under ``prefix`` whose owner (pid in the name) is gone, killing
    the processes left in them; return their names."""
    removed = []
    for name in namespaces():
        if not name.startswith(prefix):
            continue
        owner = name[len(PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and _alive(int(owner)):
            continue
        _kill_inside(name)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        removed.append(name)
    return removed


def namespaces() -> list[str]:
    """Names of every named network namespace on the machine."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


class Host:
    """One namespace: its name, service address, and threads that run code inside it."""

    def __init__(self, role: str, ns: str, address: str) -> None:
        self.role = role
        self.ns = ns
        self.address = address
        self._threads = ThreadPoolExecutor(
            max_workers=4, thread_name_prefix=f"netns-{role}", initializer=_enter, initargs=(ns,)
        )

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on a thread inside this namespace; its result or exception."""
        return self.submit(fn, *args, **kwargs).result()

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Like :meth:`call`, without waiting."""
        return self._threads.submit(fn, *args, **kwargs)

    def popen(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a process inside this namespace."""
        return self.call(subprocess.Popen, args, **kwargs)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


@dataclass
class Link:
    """A veth pair between two hosts; each end is named after the host it leads to."""

    a: Host
    b: Host
    a_addr: str
    b_addr: str
    cut: bool = False

    def ends(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """(namespace, interface) of both ends."""
        return (self.a.ns, self.b.role), (self.b.ns, self.a.role)


class NetLab:
    """The hosts and links of one run; :meth:`close` removes them and everything inside."""

    def __init__(self, token: str | None = None) -> None:
        self.prefix = f"{PREFIX}{os.getpid()}-{token or secrets.token_hex(3)}-"
        self.hosts: dict[str, Host] = {}
        self.links: dict[frozenset[str], Link] = {}

    def add_host(self, role: str) -> Host:
        """A new namespace with loopback up and the next service address."""
        if len(role) > 15 or role in self.hosts:
            raise ValueError(f"host role {role!r}: must be new and at most 15 characters")
        ns = self.prefix + role
        address = f"10.77.{len(self.hosts) // 250}.{len(self.hosts) % 250 + 1}"
        _ip("netns", "add", ns)
        host = Host(role, ns, address)
        self.hosts[role] = host
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "addr", "add", f"{address}/32", "dev", "lo")
        return host

    def connect(self, a: str, b: str) -> Link:
        """A link of its own between hosts ``a`` and ``b``, with routes to each other's
        service address through it."""
        index = len(self.links)
        host_a, host_b = self.hosts[a], self.hosts[b]
        net = f"10.78.{index // 64}.{(index % 64) * 4}"
        base = net.rsplit(".", 1)[0]
        last = int(net.rsplit(".", 1)[1])
        link = Link(host_a, host_b, f"{base}.{last + 1}", f"{base}.{last + 2}")
        _ip("-n", host_a.ns, "link", "add", b, "type", "veth", "peer", "name", a, "netns",
            host_b.ns)  # fmt: skip
        for (ns, dev), mine, theirs, far, me in (
            (link.ends()[0], link.a_addr, link.b_addr, host_b.address, host_a.address),
            (link.ends()[1], link.b_addr, link.a_addr, host_a.address, host_b.address),
        ):
            _ip("-n", ns, "addr", "add", f"{mine}/30", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "route", "add", f"{far}/32", "via", theirs, "dev", dev, "src", me)
        self.links[frozenset((a, b))] = link
        return link

    def link(self, a: str, b: str) -> Link:
        return self.links[frozenset((a, b))]

    def cut(self, a: str, b: str) -> None:
        """Drop every packet between ``a`` and ``b`` (both directions)."""
        link = self.link(a, b)
        for ns, dev in link.ends():
            _run("tc", "-n", ns, "qdisc", "replace", "dev", dev, "root", "pfifo", "limit", "0")
        link.cut = True

    def heal(self, a: str, b: str) -> None:
        link = self.link(a, b)
        for ns, dev in link.ends():
            subprocess.run(["tc", "-n", ns, "qdisc", "del", "dev", dev, "root"],
                           capture_output=True, check=False)  # fmt: skip
        link.cut = False

    def close(self) -> None:
        """Kill what runs in the run's namespaces and delete them (idempotent)."""
        for host in self.hosts.values():
            host.close()
            _kill_inside(host.ns)
            subprocess.run(["ip", "netns", "del", host.ns], capture_output=True, check=False)
        self.hosts.clear()
        self.links.clear()


def _enter(ns: str) -> None:
    """Move the calling thread into namespace ``ns`` (a thread's network namespace is its own)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join(_NETNS_DIR, ns), os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into {ns}: {os.strerror(errno)}")
    finally:
        os.close(fd)


def _kill_inside(ns: str) -> None:
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    for pid in (int(p) for p in out.stdout.split() if p.isdigit()):
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ip(*args: str) -> None:
    _run("ip", *args)


def _run(*args: str) -> None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise NetnsUnavailable(f"`{args[0]}` not found: apt install iproute2") from exc
    if done.returncode != 0:
        raise NetnsUnavailable(f"`{' '.join(args)}` failed: {done.stderr.strip()}")
