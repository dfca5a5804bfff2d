"""The server that holds the fleet state: who it is, and whether its replicas have a write.

A clear reports complete only when what it wrote (the generation, the flag, the deletions on the
same server, the members' stamps) reached every replica connected to the primary: with
asynchronous replication, a failover could otherwise promote a replica that never saw it. WAIT
counts the writes of the connection it runs on, so the clear writes a marker and WAITs on one
connection: replication is one ordered stream, so every earlier write is covered too.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.cluster import RedisCluster

#: How long the marker a clear writes lives (it only gives WAIT a write to count).
MARKER_TTL_S = 60


def node_holding(client: redis.Redis, key: str) -> redis.Redis:
    """A client on the one server holding ``key``: ``client`` itself, or for a cluster the
    primary that owns the key's slot."""
    if isinstance(client, RedisCluster):
        node = client.get_node_from_key(key)
        connection: redis.Redis = client.get_redis_connection(node)
        return connection
    return client


def server_id(node: redis.Redis) -> str:
    """The server's ``run_id``: it changes when the server restarts or another one (a promoted
    replica) answers in its place."""
    info: dict[str, Any] = node.info("server")
    return str(info.get("run_id", ""))


def confirm_replicated(node: redis.Redis, marker_key: str, timeout_s: float) -> str | None:
    """Wait until every connected replica has everything written so far; ``None`` when they
    have (or there are none), else what fell short."""
    info: dict[str, Any] = node.info("replication")
    replicas = int(info.get("connected_slaves", 0))
    if replicas == 0:
        return None
    pipe = node.pipeline(transaction=False)
    pipe.set(marker_key, "1", ex=MARKER_TTL_S)
    pipe.execute_command("WAIT", replicas, max(1, int(timeout_s * 1000)))  # type: ignore[no-untyped-call]
    _, acked = pipe.execute()
    if int(acked) >= replicas:
        return None
    return f"{acked} of {replicas} replicas acknowledged the clear"
