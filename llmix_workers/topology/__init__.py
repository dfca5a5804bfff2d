"""Redis topologies named by URL: standalone, Cluster, Sentinel; and their Celery translation."""

from llmix_workers.topology.broker import celery_transport
from llmix_workers.topology.clients import connection_pool, redis_client
from llmix_workers.topology.url import RedisTarget, parse_redis_url

__all__ = ["RedisTarget", "celery_transport", "connection_pool", "parse_redis_url", "redis_client"]
