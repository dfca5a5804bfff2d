"""Process lifecycle, in pairs: build the runtime where tasks run, close it when that stops.

With the threads or solo pool, tasks run in the worker's main process (``worker_init`` /
``worker_shutdown``); with prefork, in each child (``worker_process_init`` /
``worker_process_shutdown``). ``worker_init`` checks the settings and the Redis servers and
prepares the node's telemetry (a prefork node's metrics folder, before the pool forks); the
node's threads (metrics and health endpoint; with threads or solo, the runtime's fleet and
provider threads) start in :class:`NodeThreads`, a worker bootstep that runs once the pool has
started and before the consumer connects to the broker. Celery writes the process environment
until then (logging set-up, stdout redirection), and ``setenv`` while another thread's C code
reads the environment (``getenv``: glibc's resolver, libfaketime) crashes that thread. The
endpoint stops at ``worker_shutdown``. The runtime is also built lazily by the first task (which
comes after Celery's set-up), so an in-process test worker needs none of this. Where start-up
ends, the objects it built are frozen out of garbage collections
(:mod:`llmix_workers.worker.heap`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, bootsteps
from celery.signals import (
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from llmix_workers.errors import ConfigError
from llmix_workers.settings.sizing import check_pool_sizes
from llmix_workers.topology.clients import check_reachable
from llmix_workers.wiring.budgets import check_budgets
from llmix_workers.wiring.redis import CHECK_TIMEOUT_S
from llmix_workers.worker.heap import freeze_start_up
from llmix_workers.worker.limits import raise_open_files_limit
from llmix_workers.worker.node import NodeTelemetry
from llmix_workers.worker.runtime import close_runtime, runtime_for, set_node_name

logger = logging.getLogger(__name__)


def connect(app: Celery) -> None:
    """Connect the handlers for ``app`` (once per app)."""
    uid = f"llmix-{id(app)}"

    def on_worker_init(sender: Any = None, **_: Any) -> None:
        set_node_name(_hostname(sender))
        settings = app.settings
        try:  # Celery swallows a handler's exceptions, not SystemExit
            check_pool_sizes(settings.redis, settings.llm, settings.worker)
            check_budgets(settings)
            raise_open_files_limit(settings)
            urls = [settings.redis_url, settings.fleet_redis_url]
            check_reachable(urls, timeout_s=CHECK_TIMEOUT_S)
            NodeTelemetry(app, settings).prepare(_hostname(sender), _prefork(sender))
        except ConfigError as exc:
            logger.critical("error: %s", exc)
            raise SystemExit(2) from None
        freeze_start_up("worker_init")

    def on_worker_ready(**_: Any) -> None:
        freeze_start_up("worker_ready")

    def on_worker_process_init(**_: Any) -> None:
        runtime_for(app.settings)
        freeze_start_up("worker_process_init")

    def on_worker_process_shutdown(**_: Any) -> None:
        close_runtime()

    def on_worker_shutdown(**_: Any) -> None:
        close_runtime()
        if NodeTelemetry.current is not None:
            NodeTelemetry.current.close()

    worker_init.connect(on_worker_init, weak=False, dispatch_uid=uid + "-init")
    worker_ready.connect(on_worker_ready, weak=False, dispatch_uid=uid + "-ready")
    worker_process_init.connect(on_worker_process_init, weak=False, dispatch_uid=uid + "-pinit")
    worker_process_shutdown.connect(
        on_worker_process_shutdown, weak=False, dispatch_uid=uid + "-pstop"
    )
    worker_shutdown.connect(on_worker_shutdown, weak=False, dispatch_uid=uid + "-stop")
    app.steps["worker"].add(NodeThreads)


class NodeThreads(bootsteps.StartStopStep):  # type: ignore[misc]
    """Start the node's threads once Celery has written the process environment: the endpoint
    and, with threads or solo, the runtime (whose fleet thread registers the node)."""

    requires = ("celery.worker.components:Pool",)

    def start(self, worker: Any) -> None:
        if NodeTelemetry.current is not None:
            NodeTelemetry.current.serve()
        if not _prefork(worker):
            runtime_for(worker.app.settings, _hostname(worker))


def _hostname(worker: Any) -> str:
    return str(getattr(worker, "hostname", "") or "")


def _prefork(worker: Any) -> bool:
    """Whether ``worker``'s pool forks (its pool class, or the alias before Celery resolves it)."""
    return "prefork" in repr(getattr(worker, "pool_cls", ""))
