"""NemesisCluster: the real parts of a fleet, each on a host (network namespace) of its own.

Hosts: ``cache`` (the Redis of L2 and fleet state; with Sentinel, its primary, with the replica
on ``replica`` and three sentinels on ``sentinel``), ``broker`` (a Redis for the broker and
results), ``stub`` (the stub provider, tracing every call), ``producer`` and ``admin`` (the
agents that run the workload and the clears) and one host per worker. Links: every worker to
the cache hosts, broker and stub; producer and admin to the cache hosts and broker; the cache
hosts to each other. So each fault the issue names is a cut of its own: worker-cache (broker
still reachable), worker-broker, producer-cache, primary-replica. The workers listen on a queue
of their own (``q-<name>``), so the workload decides who serves each lookup.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmix_workers.testing.local_fleet import STUB_KEY, LocalWorker
from llmix_workers.testing.nemesis import skew
from llmix_workers.testing.nemesis.netns import Host, NetLab
from llmix_workers.testing.nemesis.sentinel_group import LISTEN_EVERYWHERE, SentinelGroup
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.testing.stub import StubProvider
from llmix_workers.topology.clients import redis_client

#: Worker settings of every run: one message reserved per thread, short provider timeouts.
WORKER_ENV = {
    "LLMIX_WORKER__PREFETCH_MULTIPLIER": "1",
    "LLMIX_LLM__TIMEOUT_S": "10",
    "LLMIX_LLM__MAX_INLINE_WAIT_S": "1",
}


@dataclass
class ClusterSpec:
    """What to start. ``skewed`` workers run under libfaketime (wall clock steerable)."""

    workers: int = 3
    sentinel: bool = False
    skewed: tuple[str, ...] = ()
    stub_latency_ms: int = 100
    concurrency: int = 4
    env: dict[str, str] = field(default_factory=dict)


class NemesisCluster:
    """Start with :meth:`start`, stop with :meth:`close` (which also removes the hosts)."""

    def __init__(self, spec: ClusterSpec, workdir: Path, lab: NetLab | None = None) -> None:
        self.spec = spec
        self.workdir = workdir
        self.lab = lab or NetLab()
        self.names = [f"w{i + 1}" for i in range(spec.workers)]
        self.cache: PrivateRedis | None = None
        self.sentinel: SentinelGroup | None = None
        self.redis_hosts = ["cache", "replica", "sentinel"] if spec.sentinel else ["cache"]
        self.broker: PrivateRedis | None = None
        self.stub: StubProvider | None = None
        self.workers: dict[str, LocalWorker] = {}
        #: Background fault loops by name, stopped by setting their event.
        self.loops: dict[str, threading.Event] = {}

    # -- start and stop -------------------------------------------------------------------------

    def start(self) -> NemesisCluster:
        lab = self.lab
        for role in (*self.redis_hosts, "broker", "stub", "producer", "admin", *self.names):
            lab.add_host(role)
        for index, server in enumerate(self.redis_hosts):
            for other in self.redis_hosts[index + 1 :]:
                lab.connect(server, other)
        for name in (*self.names, "producer", "admin"):
            for part in (*self.redis_hosts, "broker", *(["stub"] if name in self.names else [])):
                lab.connect(name, part)
        (self.workdir / "settings.toml").touch()
        self._start_servers()
        for name in self.names:
            self.workers[name] = self._worker(name)
        starting = [self.host(name).submit(w.start, 90.0) for name, w in self.workers.items()]
        for future in starting:
            future.result()
        return self

    def _start_servers(self) -> None:
        cache = self.host("cache")
        if self.spec.sentinel:
            self.sentinel = SentinelGroup(cache, self.host("replica"), self.host("sentinel"))
            self.sentinel.start()
        else:
            self.cache = PrivateRedis(extra_args=LISTEN_EVERYWHERE)
            cache.call(self.cache.start)
        self.broker = PrivateRedis(extra_args=LISTEN_EVERYWHERE)
        self.host("broker").call(self.broker.start)
        latency = self.spec.stub_latency_ms
        self.stub = self.host("stub").call(StubProvider, "0.0.0.0", latency_ms=latency, trace=True)
        self.host("stub").call(self.stub.start)

    def _worker(self, name: str) -> LocalWorker:
        env = self.env()
        launcher = None
        if name in self.spec.skewed:
            env.update(skew.environment(self.offset_file(name)))
            launcher = skew.launcher()
        return LocalWorker(name, env, self.workdir, queues=f"q-{name}",
                           concurrency=self.spec.concurrency, launcher=launcher)  # fmt: skip

    def close(self) -> None:
        for stop in self.loops.values():
            stop.set()
        stopping = [threading.Thread(target=w.stop, args=(10,)) for w in self.workers.values()]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        if self.stub is not None:
            self.stub.close()
        for server in (self.sentinel, self.cache, self.broker):
            if server is not None:
                server.close()
        self.lab.close()

    # -- addresses and settings -----------------------------------------------------------------

    def host(self, role: str) -> Host:
        return self.lab.hosts[role]

    @property
    def cache_url(self) -> str:
        if self.sentinel is not None:
            return self.sentinel.url
        assert self.cache is not None
        return f"redis://{self.host('cache').address}:{self.cache.port}/0"

    @property
    def broker_url(self) -> str:
        assert self.broker is not None
        return f"redis://{self.host('broker').address}:{self.broker.port}/0"

    def env(self) -> dict[str, str]:
        """The environment of every part that runs llmix_workers code (workers, agents)."""
        assert self.stub is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMIX_", "FAKETIME"))}
        env.pop("LD_PRELOAD", None)
        env.update(WORKER_ENV)
        env.update(
            LLMIX_REDIS__URL=self.cache_url,
            LLMIX_WORKER__BROKER_URL=self.broker_url,
            LLMIX_WORKER__RESULT_BACKEND=self.broker_url,
            LLMIX_SETTINGS=str(self.workdir / "settings.toml"),
            LLMIX_LLM__BASE_URLS__OPENAI=f"http://{self.host('stub').address}:{self.stub.port}/v1",
            OPENAI_API_KEY=STUB_KEY,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.spec.env)
        return env

    def client_of(self, address: str) -> str:
        """The host whose service address is ``address`` (who made a provider call)."""
        for role, host in self.lab.hosts.items():
            if host.address == address:
                return role
        return address

    def cut_cache(self, who: str) -> None:
        """Cut ``who`` off from every host of the cache Redis."""
        for part in self.redis_hosts:
            self.lab.cut(who, part)

    def heal_cache(self, who: str) -> None:
        for part in self.redis_hosts:
            self.lab.heal(who, part)

    def offset_file(self, name: str) -> Path:
        return self.workdir / f"{name}.faketime"

    # -- what faults act on ---------------------------------------------------------------------

    def cache_servers(self) -> list[PrivateRedis]:
        """The Redis servers holding the cache (the primary first when there are several)."""
        if self.sentinel is None:
            assert self.cache is not None
            return [self.cache]
        return self.sentinel.servers()

    def host_of(self, server: PrivateRedis) -> Host:
        return self.host("cache") if self.sentinel is None else self.sentinel.host_of(server)

    def cache_call(self, fn_name: str, *args: Any, server: PrivateRedis | None = None) -> Any:
        """A Redis command on a cache server (default: the primary), from inside its host."""
        target = server or self.cache_servers()[0]

        def run() -> Any:
            client = redis_client(
                f"redis://127.0.0.1:{target.port}/0", socket_timeout_s=5, connect_timeout_s=5
            )
            try:
                return getattr(client, fn_name)(*args)
            finally:
                client.close()

        return self.host_of(target).call(run)

    def restart(self, server: PrivateRedis) -> None:
        """Start a killed cache server again, on its port (empty: nothing is persisted)."""
        self.host_of(server).call(server.start)

    def signal_worker(self, name: str, signum: signal.Signals) -> None:
        self.workers[name].signal(signum)
