"""WorkerRuntime: what one worker process holds (its cache and its provider client)."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from llmix_workers.jobs.build import build_fleet_seat, build_response_cache
from llmix_workers.jobs.service import CompletionService
from llmix_workers.llm.client import LLMClient
from llmix_workers.llm.factory import build_llm_client
from llmix_workers.llm.registry import BUILTIN_PROVIDERS
from llmix_workers.llm.resilient import ResilientClient
from llmix_workers.settings import Settings
from llmix_workers.telemetry.invalidator import InstrumentedInvalidator
from llmix_workers.telemetry.job_telemetry import ResilienceMetrics
from llmix_workers.telemetry.metrics import Metrics
from llmix_workers.telemetry.multiprocess import is_multiprocess_mode, mark_dead
from llmix_workers.telemetry.process import ProcessTelemetry, process_telemetry
from llmix_workers.telemetry.tracing import setup_tracing, shutdown_tracing
from llmix_workers.worker.describe import describer

logger = logging.getLogger(__name__)


class WorkerRuntime:
    """One process's TwoTierCache (its own L1 over the shared L2) and LLM client.

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
        self.telemetry = _telemetry_for(settings)
        metrics = self.telemetry.metrics if self.telemetry is not None else None
        seat = build_fleet_seat(settings, self.hostname)
        member, lock = seat if seat is not None else (None, None)
        invalidator = InstrumentedInvalidator(member, metrics) if member and metrics else member
        if member is not None and metrics is not None:
            member.on_clear_result = _fleet_clear_counter(metrics)
        self.cache = build_response_cache(settings, invalidator=invalidator, metrics=metrics)
        self.fleet = member.start() if member is not None and self.cache is not None else None
        self.client: LLMClient = client or build_llm_client(settings)
        if metrics is not None and isinstance(self.client, ResilientClient):
            self.client.observer = ResilienceMetrics(metrics)
        if self.fleet is not None:
            self.fleet.describe = describer(settings, self.client)
        self.service = CompletionService(
            self.cache, self.client, worker=self.hostname,
            fleet_lock=lock if self.fleet is not None else None,
            observer=self.telemetry.observer if self.telemetry is not None else None,
        )  # fmt: skip
        if self.telemetry is not None:
            self.telemetry.start(self.cache.stats if self.cache is not None else None)

    def close(self) -> None:
        if self.fleet is not None:
            self.fleet.stop()
        if self.cache is not None:
            self.cache.close()
        if self.telemetry is not None:
            self.telemetry.stop()
            shutdown_tracing()
            if is_multiprocess_mode():
                mark_dead(self.pid)
        self.client.close()


def _telemetry_for(settings: Settings) -> ProcessTelemetry | None:
    """This process's telemetry when metrics or traces are on (tracing set up here, after fork)."""
    section = settings.telemetry
    if not section.metrics_port and not section.otel_enabled:
        return None
    setup_tracing(section)
    return process_telemetry(section, providers=known_providers(settings))


def _fleet_clear_counter(metrics: Metrics) -> Callable[[str], None]:
    """Counts a fleet clear's result as ``llmix_cache_clears_total{scope="fleet"}``."""

    def count(result: str) -> None:
        try:
            metrics.clear("fleet", result)
        except ValueError:
            logger.warning("fleet clear result %r not counted: unknown", result[:32])

    return count


def known_providers(settings: Settings) -> list[str]:
    """The providers a worker can call: the built-ins and ``llm.custom_providers``."""
    return sorted({*BUILTIN_PROVIDERS, *settings.llm.custom_providers})


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
