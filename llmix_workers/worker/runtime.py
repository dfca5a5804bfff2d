"""WorkerRuntime: what one worker process holds, built once per process where tasks run."""

from __future__ import annotations

import logging
import os
import socket
import threading

from llmix_workers.llm.client import LLMClient
from llmix_workers.settings import Settings
from llmix_workers.wiring.worker import WorkerParts, wire_worker

logger = logging.getLogger(__name__)


class WorkerRuntime:
    """One process's parts (:func:`~llmix_workers.wiring.worker.wire_worker`): its cache (its
    own L1 over the shared L2), fleet seat, provider client and service.

    Built in the process that runs tasks (after a prefork fork, never before) and closed when
    that process stops; every thread of the process shares it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        hostname: str = "",
        client: LLMClient | None = None,
    ) -> None:
        self.settings = settings
        self.pid = os.getpid()
        self.hostname = hostname or _node_name or socket.gethostname()
        self.parts: WorkerParts = wire_worker(settings, node=self.hostname, client=client)
        self.cache = self.parts.cache
        self.fleet = self.parts.fleet
        self.client = self.parts.client
        self.service = self.parts.service

    def close(self) -> None:
        self.parts.close()


_lock = threading.Lock()
_runtime: WorkerRuntime | None = None
_node_name = ""


def set_node_name(name: str) -> None:
    """Remember the Celery node name (set in the main process, inherited by prefork children)."""
    global _node_name
    _node_name = name


def runtime_for(settings: Settings, hostname: str = "") -> WorkerRuntime:
    """This process's runtime, built on first use (and again in a forked child)."""
    global _runtime
    runtime = _runtime
    if runtime is not None and runtime.pid == os.getpid():
        return runtime
    with _lock:
        if _runtime is None or _runtime.pid != os.getpid():
            _runtime = WorkerRuntime(settings, hostname=hostname)
            logger.info("worker process %d: runtime ready", _runtime.pid)
        return _runtime


def close_runtime() -> None:
    """Close this process's runtime if it has one (idempotent)."""
    global _runtime
    with _lock:
        runtime, _runtime = _runtime, None
    if runtime is not None and runtime.pid == os.getpid():
        runtime.close()
