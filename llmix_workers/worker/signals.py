"""Process lifecycle, in pairs: build the runtime where tasks run, close it when that stops.

With the threads or solo pool, tasks run in the worker's main process (``worker_init`` /
``worker_shutdown``); with prefork, in each child (``worker_process_init`` /
``worker_process_shutdown``). ``worker_init`` checks the settings and the Redis servers and
prepares the node's telemetry (a prefork node's metrics folder, before the pool forks); the
node's threads (metrics and health endpoint; with threads or solo, the runtime's fleet and
provider threads) start at ``worker_ready``. Celery writes the process environment until its
start-up ends (logging set-up, stdout redirection), and ``setenv`` while another thread's C code
reads the environment (``getenv``: glibc's resolver, libfaketime) crashes that thread. The
endpoint stops at ``worker_shutdown``. The runtime is also built lazily by the first task (which
comes after Celery's set-up), so an in-process test worker needs none of this. Where start-up
ends, the objects it built are frozen out of garbage collections
(:mod:`llmix_workers.worker.heap`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
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
    #: What ``worker_init`` learnt for ``worker_ready``: the node name and whether it forks.
    node: dict[str, Any] = {}

    def on_worker_init(sender: Any = None, **_: Any) -> None:
        set_node_name(_hostname(sender))
        settings = app.settings
        try:  # Celery swallows a handler's exceptions, not SystemExit
            check_pool_sizes(settings.redis, settings.llm, settings.worker)
            check_budgets(settings)
            raise_open_files_limit(settings)
            urls = [settings.redis_url, settings.fleet_redis_url]
            check_reachable(urls, timeout_s=CHECK_TIMEOUT_S)
        except ConfigError as exc:
            logger.critical("error: %s", exc)
            raise SystemExit(2) from None
        prefork = "prefork" in repr(getattr(sender, "pool_cls", ""))
        node.update(hostname=_hostname(sender), prefork=prefork)
        NodeTelemetry(app, settings).prepare(_hostname(sender), prefork)
        freeze_start_up("worker_init")

    def on_worker_ready(**_: Any) -> None:
        if NodeTelemetry.current is not None:
            NodeTelemetry.current.serve()
        if node and not node["prefork"]:
            runtime_for(app.settings, node["hostname"])
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


def _hostname(worker: Any) -> str:
    return str(getattr(worker, "hostname", "") or "")
