"""RedisTarget: what a Redis URL says about the topology, parsed once and checked.

Accepted forms (every Redis role: L2, fleet state, broker, result backend):

- ``redis://[[user]:password@]host[:port][/db]``, ``rediss://…`` (TLS), ``unix:///path?db=N``:
  one standalone server;
- ``redis+cluster://[[user]:password@]host:port[,host:port…]`` (``rediss+cluster://``): a Redis
  Cluster, any of its nodes as seeds (a cluster has only database 0);
- ``redis+sentinel://[[user]:password@]host:port[,host:port…]/service_name[/db]``
  (``rediss+sentinel://``): the current primary of ``service_name`` as the sentinels report it.
  The password is the primary's; a password for the sentinels themselves goes in the query,
  ``?sentinel_password=…``.

Errors never repeat the URL: it may hold a password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import parse_qsl, unquote

from llmix_workers.errors import ConfigError

Kind = Literal["standalone", "cluster", "sentinel"]

#: Scheme -> (topology, TLS).
SCHEMES: Final[dict[str, tuple[Kind, bool]]] = {
    "redis": ("standalone", False),
    "rediss": ("standalone", True),
    "unix": ("standalone", False),
    "redis+cluster": ("cluster", False),
    "rediss+cluster": ("cluster", True),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
}
DEFAULT_PORTS: Final[dict[Kind, int]] = {"standalone": 6379, "cluster": 6379, "sentinel": 26379}


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A parsed Redis URL. ``url`` is the original text (clear: never log it)."""

    url: str = field(repr=False)
    kind: Kind
    tls: bool
    hosts: tuple[tuple[str, int], ...]
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    service: str | None = None
    query: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def redacted(self) -> str:
        """Scheme and hosts only, for messages: ``redis+cluster://h1:7000,h2:7001``."""
        scheme = self.url.partition("://")[0]
        hosts = ",".join(f"{host}:{port}" for host, port in self.hosts)
        return f"{scheme}://{hosts}" + (f"/{self.service}" if self.service else "")


def parse_redis_url(url: str) -> RedisTarget:
    """Parse ``url`` (any form in the module docstring).

    Raises:
        ConfigError: unknown scheme, no host, a bad port, a sentinel URL without service name,
            a cluster URL with a database other than 0. The message shows no credentials.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        allowed = ", ".join(f"{name}://" for name in SCHEMES)
        raise ConfigError(f"a Redis URL must start with one of {allowed} (got {scheme[:20]}://)")
    kind, tls = SCHEMES[scheme]
    if scheme == "unix":
        return RedisTarget(url, kind, tls, ())
    rest, _, query_text = rest.partition("?")
    query = dict(parse_qsl(query_text))
    userinfo, _, rest = rest.rpartition("@")
    netloc, _, path = rest.partition("/")
    user, _, password = userinfo.partition(":")
    hosts = tuple(_host_port(part, DEFAULT_PORTS[kind], scheme) for part in netloc.split(","))
    segments = [unquote(part) for part in path.split("/") if part]
    service = segments.pop(0) if kind == "sentinel" and segments else None
    if kind == "sentinel" and not service:
        raise ConfigError(f"{scheme}:// needs a service name: {scheme}://host:port/service[/db]")
    db = _db(segments, query, scheme)
    if kind == "cluster" and db != 0:
        raise ConfigError(f"{scheme}:// cannot select database {db}: a Redis Cluster has only 0")
    if kind == "standalone" and len(hosts) > 1:
        raise ConfigError(f"{scheme}:// names one host; use redis+cluster:// or redis+sentinel://")
    return RedisTarget(url, kind, tls, hosts, db, unquote(user) or None,
                       unquote(password) or None, service, query)  # fmt: skip


def _host_port(part: str, default: int, scheme: str) -> tuple[str, int]:
    if part.startswith("["):
        host, _, tail = part[1:].partition("]")
        port_text = tail.removeprefix(":")
    else:
        host, _, port_text = part.partition(":")
    if not host:
        raise ConfigError(f"{scheme}:// names no host (got an empty host in the list)")
    try:
        port = int(port_text) if port_text else default
    except ValueError:
        message = f"{scheme}:// has a port that is not a number: {port_text[:10]}"
        raise ConfigError(message) from None
    if not 0 < port < 65536:
        raise ConfigError(f"{scheme}:// has a port out of range: {port}")
    return host, port


def _db(segments: list[str], query: dict[str, str], scheme: str) -> int:
    if len(segments) > 1:
        raise ConfigError(f"{scheme}:// has too many path parts (expected at most a database)")
    text = segments[0] if segments else query.get("db", "0")
    if not text.isdigit():
        raise ConfigError(f"{scheme}:// database must be a number (got {text[:10]})")
    return int(text)
