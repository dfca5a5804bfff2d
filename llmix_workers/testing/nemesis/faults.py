"""The faults the nemesis injects, by name: how each is injected into a cluster and healed.

A fault with a heal lasts from its injection to its heal; one without (``instant``) is a single
blow (Redis restarted empty). Killing pub/sub connections lasts too: while it does, the target's
subscriptions are killed every :data:`PUBSUB_KILL_EVERY_S` (a subscriber that reconnects at once
would otherwise be back before the clear publishes). Targets: a worker name, ``producer`` or
``cache`` (every subscriber).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import redis

from llmix_workers.testing.nemesis import skew
from llmix_workers.testing.nemesis.cluster import NemesisCluster

WORKER_CACHE: Final = "worker-cache partition"
WORKER_BROKER: Final = "worker-broker partition"
PRODUCER_CACHE: Final = "producer-cache partition"
REDIS_PAUSED: Final = "cache Redis paused"
REDIS_KILLED: Final = "cache Redis killed, restarted empty"
REDIS_RESTARTED: Final = "cache Redis restarted empty"
PUBSUB_KILLED: Final = "pub/sub connections killed during a clear"
PUBSUB_KILL_EVERY_S: Final = 0.05
CLOCK_SKEW: Final = "worker clock 5 min behind"
FAILOVER: Final = "Sentinel failover right after a clear"
#: How far behind a skewed worker's wall clock runs.
SKEW_S: Final = -300

Action = Callable[[NemesisCluster, str], None]


@dataclass(frozen=True)
class FaultKind:
    """``targets`` lists what the fault may hit in a cluster; ``heal`` is None for an instant
    fault."""

    name: str
    targets: Callable[[NemesisCluster], list[str]]
    inject: Action
    heal: Action | None = None


def _workers(cluster: NemesisCluster) -> list[str]:
    return list(cluster.names)


def _skewed(cluster: NemesisCluster) -> list[str]:
    return list(cluster.spec.skewed)


def _cut_cache(cluster: NemesisCluster, target: str) -> None:
    cluster.cut_cache(target)


def _heal_cache(cluster: NemesisCluster, target: str) -> None:
    cluster.heal_cache(target)


def _cut_broker(cluster: NemesisCluster, target: str) -> None:
    cluster.lab.cut(target, "broker")


def _heal_broker(cluster: NemesisCluster, target: str) -> None:
    cluster.lab.heal(target, "broker")


def _pause(cluster: NemesisCluster, target: str) -> None:
    cluster.cache_servers()[0].pause()


def _resume(cluster: NemesisCluster, target: str) -> None:
    for server in cluster.cache_servers():
        server.resume()


def _kill(cluster: NemesisCluster, target: str) -> None:
    cluster.cache_servers()[0].kill()


def _restart(cluster: NemesisCluster, target: str) -> None:
    assert cluster.cache is not None, "restarts are for a standalone cache Redis"
    cluster.restart(cluster.cache)


def _kill_restart(cluster: NemesisCluster, target: str) -> None:
    _kill(cluster, target)
    _restart(cluster, target)


def _start_killing_pubsub(cluster: NemesisCluster, target: str) -> None:
    stop = threading.Event()
    cluster.loops[f"pubsub {target}"] = stop

    def loop() -> None:
        while not stop.wait(PUBSUB_KILL_EVERY_S):
            try:
                _kill_pubsub(cluster, target)
            except (redis.RedisError, OSError):
                pass  # the cache Redis is down or paused by another fault: nothing to kill

    threading.Thread(target=loop, daemon=True, name=f"kill-pubsub-{target}").start()


def _stop_killing_pubsub(cluster: NemesisCluster, target: str) -> None:
    stop = cluster.loops.pop(f"pubsub {target}", None)
    if stop is not None:
        stop.set()


def _kill_pubsub(cluster: NemesisCluster, target: str) -> None:
    """``CLIENT KILL TYPE pubsub``: every subscriber's connection, or one worker's."""
    if target == "cache":
        cluster.cache_call("execute_command", "CLIENT", "KILL", "TYPE", "pubsub")
        return
    address = cluster.host(target).address
    listed = cluster.cache_call("client_list", "pubsub")
    for client in listed:
        if str(client.get("addr", "")).rsplit(":", 1)[0] == address:
            cluster.cache_call("client_kill_filter", client["id"])


def _skew(seconds: int) -> Action:
    return lambda cluster, target: skew.set_offset(cluster.offset_file(target), seconds)


def _single_redis(cluster: NemesisCluster) -> list[str]:
    return ["cache"] if cluster.sentinel is None else []


def _pubsub_targets(cluster: NemesisCluster) -> list[str]:
    return ["cache", *cluster.names]


KINDS: Final = {
    kind.name: kind
    for kind in (
        FaultKind(WORKER_CACHE, _workers, _cut_cache, _heal_cache),
        FaultKind(WORKER_BROKER, _workers, _cut_broker, _heal_broker),
        FaultKind(PRODUCER_CACHE, lambda c: ["producer"], _cut_cache, _heal_cache),
        FaultKind(REDIS_PAUSED, lambda c: ["cache"], _pause, _resume),
        FaultKind(REDIS_KILLED, _single_redis, _kill, _restart),
        FaultKind(REDIS_RESTARTED, _single_redis, _kill_restart),
        FaultKind(PUBSUB_KILLED, _pubsub_targets, _start_killing_pubsub, _stop_killing_pubsub),
        FaultKind(CLOCK_SKEW, _skewed, _skew(SKEW_S), _skew(0)),
    )
}
