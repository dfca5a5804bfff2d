"""The one door to Redis: URLs of every topology (standalone, Cluster, Sentinel), the clients
and pools built from them, and their Celery translation."""

from llmix_workers.topology.broker import celery_transport
from llmix_workers.topology.clients import (
    REDIS_ERRORS,
    connection_pool,
    ping,
    redis_client,
    retry_policy,
)
from llmix_workers.topology.url import RedisTarget, parse_redis_url

__all__ = [
    "REDIS_ERRORS",
    "RedisTarget",
    "celery_transport",
    "connection_pool",
    "parse_redis_url",
    "ping",
    "redis_client",
    "retry_policy",
]
