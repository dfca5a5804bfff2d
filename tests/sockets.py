"""This test process's own TCP connections to a server: what a ``close()`` must leave closed."""

from __future__ import annotations

import psutil

from llmix_workers.topology.url import parse_redis_url


def connections_to(url: str) -> set[int]:
    """Local ports of this process's established TCP connections to the Redis at ``url``."""
    port = parse_redis_url(url).hosts[0][1]
    return {
        conn.laddr.port
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
    }
