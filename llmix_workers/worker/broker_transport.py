"""kombu's Redis and Sentinel transports, with a hand-over that cannot drop a message.

kombu's Redis transport takes a message off its queue with ``BRPOP``, then records it as
unacknowledged (``ZADD`` + ``HSET`` in one transaction) on another pooled connection, and only
then hands it to the worker. When that record fails because the connection is gone (a Redis
restart, a Sentinel failover, a cut network path between the two steps), kombu raises: the
message has left the queue, is recorded nowhere, and its job never runs nor answers. Here the
message is handed over anyway, held as unacknowledged in this process only: the job runs; its
late acknowledgement, on whatever connection comes next, has nothing left to delete. If the
record did reach Redis before the connection dropped, the broker also gives the message back
after ``worker.visibility_timeout_s`` unless the job was acknowledged first (a second run: the
fleet lock and the cache keep it to one provider call).

What no transport can close: a primary that dies after taking the message off its list but
before the replica has that write, or before the reply left it (Redis replicates
asynchronously). RabbitMQ with quorum queues has no such window.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

logger = logging.getLogger(__name__)


class HandOverQoS(kombu_redis.QoS):
    """kombu's Redis QoS whose ``append`` keeps the message when Redis cannot record it."""

    def append(self, message: Any, delivery_tag: str) -> None:
        try:
            super().append(message, delivery_tag)  # type: ignore[no-untyped-call]
        except self.channel.connection_errors as exc:
            logger.warning(
                "the broker connection dropped while recording message %s as unacknowledged "
                "(%r): running it anyway, the broker no longer holds it",
                message.properties.get("correlation_id", delivery_tag),
                exc,
            )
            virtual.QoS.append(self, message, delivery_tag)  # type: ignore[no-untyped-call]


class RedisChannel(kombu_redis.Channel):
    QoS = HandOverQoS


class RedisTransport(kombu_redis.Transport):
    """``redis://`` and ``rediss://`` brokers (``broker_transport``)."""

    Channel = RedisChannel


class SentinelChannel(kombu_redis.SentinelChannel):
    QoS = HandOverQoS


class SentinelTransport(kombu_redis.SentinelTransport):
    """``sentinel://`` brokers (``broker_transport``)."""

    Channel = SentinelChannel


#: The ``broker_transport`` for a kombu broker URL's scheme; other schemes keep kombu's own.
TRANSPORTS = {
    "redis": f"{__name__}:RedisTransport",
    "rediss": f"{__name__}:RedisTransport",
    "sentinel": f"{__name__}:SentinelTransport",
}


def transport_conf(broker_url: str) -> dict[str, Any]:
    """Celery settings that put these transports under ``broker_url`` (a kombu URL): nothing
    for a broker that is not Redis. A ``rediss://`` URL without ``ssl_*`` options verifies the
    server's certificate against the system's CAs (kombu, choosing its transport by scheme,
    would skip verification with a warning; a Sentinel URL verifies too)."""
    scheme = broker_url.partition("://")[0]
    if scheme not in TRANSPORTS:
        return {}
    conf: dict[str, Any] = {"broker_transport": TRANSPORTS[scheme]}
    if scheme == "rediss" and "ssl_" not in broker_url.partition("?")[2]:
        conf["broker_use_ssl"] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    return conf
