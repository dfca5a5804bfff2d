"""Checking, before anything is sent, that the Redis servers and broker a command needs answer.

Each check takes at most a couple of seconds and fails with one line naming what could not be
reached (password masked), so a wrong ``REDIS_URL`` never turns into a long retry loop and a
traceback.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmix_workers.cli.urls import masked_url, scrub
from llmix_workers.errors import LlmixError
from llmix_workers.settings import Settings
from llmix_workers.topology.clients import ping
from llmix_workers.wiring.redis import CHECK_TIMEOUT_S

ROLE_NAMES = {"broker": "broker", "results": "result backend", "fleet": "fleet-state Redis",
              "cache": "L2 cache Redis"}  # fmt: skip


class Unreachable(LlmixError):
    """Raised when a Redis server or broker a command needs does not answer."""


def require(settings: Settings, roles: Iterable[str]) -> None:
    """Check every URL behind ``roles`` (``broker``, ``results``, ``fleet``, ``cache``).

    Raises:
        Unreachable: one of them did not answer; the message names its role and masked URL.
        ConfigError: a role has no URL at all.
    """
    by_url: dict[str, list[str]] = {}
    for role in roles:
        url = _url_for(settings, role)
        if url:
            by_url.setdefault(url, []).append(ROLE_NAMES.get(role, role))
    for url, names in by_url.items():
        check(url, " and ".join(names))


def check(url: str, role: str) -> None:
    """Ping ``url`` (Redis of any topology, or an AMQP broker) within
    :data:`~llmix_workers.wiring.redis.CHECK_TIMEOUT_S`."""
    try:
        if url.startswith(("amqp", "pyamqp")):
            _ping_amqp(url)
        else:
            ping(url, timeout_s=CHECK_TIMEOUT_S)
    except Exception as exc:
        reason = scrub(str(exc) or type(exc).__name__, url).strip().rstrip(".")
        raise Unreachable(f"cannot reach the {role} at {masked_url(url)}: {reason}") from None


def _url_for(settings: Settings, role: str) -> str | None:
    if role == "broker":
        return settings.broker_url
    if role == "results":
        return settings.result_backend_url
    if role == "fleet":
        return settings.fleet_redis_url
    return settings.redis_url


def _ping_amqp(url: str) -> None:
    from kombu.connection import Connection

    with Connection(url, connect_timeout=CHECK_TIMEOUT_S) as connection:  # type: ignore[no-untyped-call]
        connection.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_S)
