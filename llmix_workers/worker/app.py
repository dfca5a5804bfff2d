"""create_app(settings) -> Celery: the only place Celery is configured."""

from __future__ import annotations

from typing import Any

import redis
from celery import Celery

from llmix_workers.errors import ConfigError
from llmix_workers.settings import Settings
from llmix_workers.settings.sizing import redis_connections_needed
from llmix_workers.topology.broker import celery_transport
from llmix_workers.topology.clients import REDIS_ERRORS, ping
from llmix_workers.topology.url import SCHEMES
from llmix_workers.worker.broker_transport import transport_conf

#: Seconds each Redis has to answer the start-up credentials check.
CREDENTIALS_TIMEOUT_S = 5.0
#: Seconds a dead process's hold on the broker's restore scan lasts (each scan takes milliseconds).
RESTORE_MUTEX_S = 30


class LlmixCelery(Celery):  # type: ignore[misc]
    """A Celery app that carries the Settings it was built from (``app.settings``); its remote
    control gives each ``llmix_cache_clear`` broadcast an id the nodes share."""

    control_cls = "llmix_workers.worker.control:LlmixControl"

    def __init__(self, *args: Any, settings: Settings, **kwargs: Any) -> None:
        self.settings = settings
        super().__init__(*args, **kwargs)

    def __reduce_keys__(self) -> dict[str, Any]:
        """What a pickled app is rebuilt from: Celery's keys and the settings."""
        keys: dict[str, Any] = super().__reduce_keys__()
        return {**keys, "settings": self.settings}


def create_app(settings: Settings, **conf: Any) -> LlmixCelery:
    """A Celery app for ``settings``: broker, results, queue, pool, limits, delivery.

    Completion jobs are acknowledged late and rejected when their worker is lost, so a worker
    killed mid-job loses nothing: with the Redis broker the message becomes visible again after
    ``worker.visibility_timeout_s`` and another worker runs it. ``conf`` overrides Celery
    settings (tests use it). A ``redis+sentinel://`` broker or result backend becomes kombu's
    ``sentinel://`` transport (:func:`~llmix_workers.topology.broker.celery_transport`); a Redis
    or Sentinel broker gets kombu's transport with a hand-over that cannot drop a job
    (:mod:`~llmix_workers.worker.broker_transport`).
    ``worker.task_events`` turns on task events (for ``celery events``, Flower, celery-exporter).

    Raises:
        ConfigError: no broker or result backend URL can be worked out, or one is a Redis
            Cluster URL.
    """
    from llmix_workers.worker import control, signals, tasks  # noqa: F401  (control registers)
    from llmix_workers.worker.node import HealthBeat

    worker = settings.worker
    app = LlmixCelery("llmix_workers", set_as_current=False, settings=settings)
    fallback = " (unset, so the Redis URL)"
    broker_name = "worker.broker_url" + ("" if worker.broker_url else fallback)
    backend_name = "worker.result_backend" + ("" if worker.result_backend else fallback)
    broker = celery_transport(settings.broker_url, "broker", broker_name)
    backend = celery_transport(settings.result_backend_url, "result_backend", backend_name)
    app.conf.update(
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": worker.visibility_timeout_s,
            "unacked_restore_interval": worker.restore_interval_s,
            "unacked_restore_throttle": 1,
            # kombu's restore mutex (5 min by default): a process dying while it scans for
            # jobs to give back would hold every redelivery of the fleet up that long.
            "unacked_mutex_expire": min(RESTORE_MUTEX_S, worker.visibility_timeout_s),
            "socket_timeout": 30,
            "socket_connect_timeout": 5,
            # kombu's Redis channel pool (10 by default): every task thread may ack at once.
            "max_connections": redis_connections_needed(worker),
            **broker.pop("broker_transport_options", {}),
        },
        result_backend_transport_options={
            "socket_timeout": 30,
            "socket_connect_timeout": 5,
            **backend.pop("result_backend_transport_options", {}),
        },
        **broker,
        **backend,
        task_default_queue=worker.queue,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        result_expires=worker.result_expires_s,
        # The worker's name and re-queue count on every result, failures included (the CLI's
        # output lines carry them); a result backend restart or Sentinel failover is waited
        # out, not a lost result.
        result_extended=True,
        result_backend_always_retry=True,
        result_backend_max_retries=30,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_time_limit=worker.task_time_limit_s,
        task_soft_time_limit=worker.task_soft_time_limit_s,
        worker_pool=worker.pool,
        worker_concurrency=worker.concurrency,
        worker_prefetch_multiplier=worker.prefetch_multiplier,
        worker_hijack_root_logger=False,
        worker_send_task_events=worker.task_events,
        task_send_sent_event=worker.task_events,
        worker_enable_remote_control=True,
        worker_consumer="llmix_workers.worker.consumer:LlmixConsumer",
        broker_pool_limit=max(10, worker.concurrency),
        # The Redis result backend's pool (redis-py caps an unsized one at 100).
        redis_max_connections=redis_connections_needed(worker),
    )
    app.conf.update(conf)
    if "broker_transport" not in conf:
        app.conf.update(transport_conf(app.conf.broker_url))
    app.steps["consumer"].add(HealthBeat)
    tasks.register(app)
    signals.connect(app)
    return app


def check_redis_credentials(settings: Settings) -> None:
    """Refuse to start a worker when a Redis it needs rejects its credentials (one PING each).

    An unreachable Redis is not an error here: Celery retries the broker, L2 degrades. A wrong
    password or user is, since no retry can fix it (Celery would retry it for minutes). Every
    topology is checked (a Sentinel's primary, each node of a cluster).

    Raises:
        ConfigError: names the role (broker, result backend, cache, fleet state), never the URL.
    """
    roles = {
        "broker": settings.broker_url,
        "result backend": settings.result_backend_url,
        "cache": settings.redis_url,
        "fleet state": settings.fleet_redis_url,
    }
    for role, url in roles.items():
        if not url or url.partition("://")[0] not in SCHEMES:
            continue
        try:
            ping(url, timeout_s=CREDENTIALS_TIMEOUT_S)
        except redis.AuthenticationError as exc:
            raise ConfigError(f"the {role} Redis refused the credentials: {exc}") from None
        except (*REDIS_ERRORS, ConfigError):
            continue
