"""What Celery and kombu expect for a broker or result-backend URL of any topology.

Standalone Redis and AMQP URLs pass through. A Sentinel URL becomes kombu's / Celery's
``sentinel://h1:p1/db;sentinel://h2:p2/db`` with ``master_name`` in the transport options. A
Redis Cluster is refused: kombu has no cluster transport and Celery no cluster result backend.
"""

from __future__ import annotations

import ssl
from typing import Any, Literal
from urllib.parse import quote

from llmix_workers.errors import ConfigError
from llmix_workers.topology.url import SCHEMES, RedisTarget, parse_redis_url

Role = Literal["broker", "result_backend"]

_CONF = {
    "broker": ("broker_url", "broker_transport_options", "broker_use_ssl"),
    "result_backend": ("result_backend", "result_backend_transport_options",
                       "redis_backend_use_ssl"),
}  # fmt: skip


def celery_transport(url: str, role: Role, setting: str) -> dict[str, Any]:
    """Celery configuration entries for ``url`` in ``role``: the URL, and for Sentinel the
    transport options (``master_name``, ``sentinel_kwargs``) and TLS options to merge into the
    app's own. ``setting`` names the setting in error messages.

    Raises:
        ConfigError: a Redis Cluster URL (with what to use instead), or a malformed Redis URL.
    """
    url_key, options_key, ssl_key = _CONF[role]
    scheme = url.partition("://")[0]
    if scheme not in SCHEMES:
        return {url_key: url}  # amqp://, pyamqp://… handled by kombu as they are
    target = parse_redis_url(url)
    if target.kind == "cluster":
        raise ConfigError(
            f"{setting}: Redis Cluster cannot be a Celery {role.replace('_', ' ')} (kombu and "
            "Celery have no cluster transport); use standalone Redis, redis+sentinel:// or "
            "RabbitMQ there, and keep the cluster for L2 and fleet state"
        )
    if target.kind == "standalone":
        return {url_key: url}
    conf: dict[str, Any] = {
        url_key: _sentinel_url(target),
        options_key: _sentinel_options(target),
    }
    if target.tls:
        conf[ssl_key] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    return conf


def _sentinel_url(target: RedisTarget) -> str:
    auth = ""
    if target.password:
        auth = f"{quote(target.username or '', safe='')}:{quote(target.password, safe='')}@"
    return ";".join(f"sentinel://{auth}{host}:{port}/{target.db}" for host, port in target.hosts)


def _sentinel_options(target: RedisTarget) -> dict[str, Any]:
    options: dict[str, Any] = {"master_name": target.service}
    sentinel_kwargs: dict[str, Any] = {"ssl": True} if target.tls else {}
    if target.query.get("sentinel_password"):
        sentinel_kwargs["password"] = target.query["sentinel_password"]
    if sentinel_kwargs:
        options["sentinel_kwargs"] = sentinel_kwargs
    return options
