"""ProcessTelemetry: one worker process's metrics, job observer and gauge sampler, set up and
torn down in pairs where the process holds its L1 (a threads node, or each prefork child)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable

from prometheus_client import REGISTRY, CollectorRegistry

from llmix_workers.cache.stats import CacheStats
from llmix_workers.settings import TelemetrySettings
from llmix_workers.telemetry.job_telemetry import JobTelemetry
from llmix_workers.telemetry.metrics import Metrics
from llmix_workers.telemetry.tracing import get_tracer

logger = logging.getLogger(__name__)


class ProcessTelemetry:
    """Owns this process's :class:`Metrics` (registered once per registry, the series of
    ``providers`` at zero) and a thread that copies the cache's gauges (L2 health, L1 entries)
    into them every ``interval_s``."""

    def __init__(
        self,
        section: TelemetrySettings,
        *,
        registry: CollectorRegistry | None = None,
        interval_s: float = 1.0,
        providers: Iterable[str] = (),
    ) -> None:
        self.metrics = Metrics.from_settings(section, registry or REGISTRY, providers=providers)
        self.observer = JobTelemetry(
            self.metrics, tracer=get_tracer(), record_content=section.otel_record_content
        )
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, stats: Callable[[], CacheStats] | None) -> ProcessTelemetry:
        """Count this process as up and, with a cache, start sampling its gauges."""
        self.metrics.worker_process(True)
        if stats is not None:
            self._sample(stats)
            self._thread = threading.Thread(
                target=self._run, args=(stats,), name="llmix-gauges", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling and count this process as down (it may be started again)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self._stop = threading.Event()
        self.metrics.worker_process(False)

    def _run(self, stats: Callable[[], CacheStats]) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample(stats)

    def _sample(self, stats: Callable[[], CacheStats]) -> None:
        try:
            current = stats()
        except Exception as exc:  # a sampler must never take the process down
            logger.debug("cache stats for metrics failed: %s", exc)
            return
        self.metrics.l2_healthy(current.l2_healthy or not current.l2_enabled)
        self.metrics.l1_entries(current.l1_size)
        self.metrics.lease_valid(current.generation is not None)


_process: tuple[int, ProcessTelemetry] | None = None
_process_lock = threading.Lock()


def process_telemetry(
    section: TelemetrySettings, providers: Iterable[str] = ()
) -> ProcessTelemetry:
    """This process's :class:`ProcessTelemetry`, made on first use (a metric family can be
    registered once per process registry; a forked child makes its own), with the series of
    ``providers`` at zero."""
    global _process
    with _process_lock:
        if _process is None or _process[0] != os.getpid():
            _process = (os.getpid(), ProcessTelemetry(section, providers=providers))
        return _process[1]
