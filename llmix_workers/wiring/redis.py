"""A Redis client for each role a process gives Redis, from :class:`Settings`, through the one
door (:mod:`llmix_workers.topology`).

Roles, and what each takes from settings:

- ``cache``: L2 entries (``redis.url``), the cache's short timeouts;
- ``fleet``: fleet state on a job's path, the member's checks and the fleet lock
  (``fleet.redis_url``, else ``redis.url``), the cache's short timeouts;
- ``control``: fleet clears, stats and the CLI's reads of fleet state (same Redis), with
  :data:`CONTROL_TIMEOUT_S`, since they wait on scans and replies outside any job;
- ``budget``: fleet-wide budgets (same Redis as the fleet state, short timeouts).

Readiness probes and the CLI's reachability checks ping a URL with :func:`ping_role`.
"""

from __future__ import annotations

from typing import Final, Literal

import redis

from llmix_workers.errors import ConfigError
from llmix_workers.settings import Settings
from llmix_workers.settings.sizing import redis_connections_needed
from llmix_workers.topology.clients import ping, redis_client
from llmix_workers.topology.outage import Outage

RedisRole = Literal["cache", "fleet", "control", "budget"]
#: Socket timeout of the ``control`` role (clears, stats, the CLI): seconds per reply.
CONTROL_TIMEOUT_S: Final = 5.0
#: Seconds a reachability check (the CLI's, a worker's at start) waits for each answer.
CHECK_TIMEOUT_S: Final = 2.0


def role_url(settings: Settings, role: RedisRole) -> str | None:
    """The URL behind ``role`` (``None``: no Redis configured for it)."""
    return settings.redis_url if role == "cache" else settings.fleet_redis_url


def redis_for(settings: Settings, role: RedisRole) -> redis.Redis:
    """A redis-py client of the URL's topology for ``role`` (see the module docstring), with the
    project's retry policy and a pool of one connection per task thread of a worker process and
    a few more (every thread may hold the fleet lock's round trip at once). Standalone and
    Sentinel clients connect on first use; a cluster client fetches the slot map now.

    Raises:
        ConfigError: no Redis URL is configured for the role, or no cluster seed node answered.
    """
    url = role_url(settings, role)
    if not url:
        what = "the L2 cache" if role == "cache" else "fleet coordination"
        raise ConfigError(f"{what} needs Redis: set REDIS_URL or fleet.redis_url")
    section = settings.redis
    timeout_s = CONTROL_TIMEOUT_S if role == "control" else section.socket_timeout_s
    return redis_client(url, socket_timeout_s=timeout_s,
                        connect_timeout_s=section.connect_timeout_s,
                        max_connections=redis_connections_needed(settings.worker))  # fmt: skip


def ping_role(settings: Settings, role: RedisRole, *, timeout_s: float) -> None:
    """One ``PING`` to the Redis behind ``role`` within ``timeout_s`` (any topology).

    Raises:
        ConfigError: no URL for the role, or a cluster without a reachable seed node.
        redis.RedisError, OSError: no answer, or the credentials were refused.
    """
    url = role_url(settings, role)
    if not url:
        raise ConfigError(f"no Redis URL is configured for the {role} role")
    ping(url, timeout_s=timeout_s)


def shared_outages(settings: Settings) -> dict[RedisRole, Outage]:
    """One :class:`~llmix_workers.topology.outage.Outage` per Redis a process talks to on a
    job's path, by role: the ``cache`` and ``fleet`` roles share one when their URLs are equal
    (the default), so a hung Redis costs a job one timeout, whichever part meets it first. The
    cool-off is ``cache.l2_cooloff_s``."""
    by_url: dict[str | None, Outage] = {}
    roles: tuple[RedisRole, ...] = ("cache", "fleet", "budget")
    return {
        role: by_url.setdefault(role_url(settings, role), Outage(settings.cache.l2_cooloff_s))
        for role in roles
    }
