"""TelemetryHooks: a worker process's metrics and spans, attached through the wiring's one seam
(:class:`~llmix_workers.wiring.hooks.Hooks`): instrumented L2 and invalidator, the job and
resilience observers, the budgets' and the fleet's counts, the gauge sampler; set up and torn
down in pairs."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from llmix_workers.cache.backend import Invalidator, L2Backend
from llmix_workers.cache.stats import CacheStats
from llmix_workers.fleet.answers import Answered, FleetCounts
from llmix_workers.fleet.budget import BudgetObserver
from llmix_workers.jobs.observer import JobObserver
from llmix_workers.llm.resilient import ResilienceObserver
from llmix_workers.telemetry.budget_metrics import BudgetMetrics
from llmix_workers.telemetry.instrumented import InstrumentedL2
from llmix_workers.telemetry.invalidator import InstrumentedInvalidator
from llmix_workers.telemetry.job_telemetry import ResilienceMetrics
from llmix_workers.telemetry.metrics import Metrics
from llmix_workers.telemetry.multiprocess import is_multiprocess_mode, mark_dead
from llmix_workers.telemetry.process import ProcessTelemetry
from llmix_workers.telemetry.tracing import shutdown_tracing

logger = logging.getLogger(__name__)


class FleetMetrics:
    """Counts what a fleet member takes from the fleet's lists (each item once in the fleet)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def clear_result(self, result: str) -> None:
        try:
            self._metrics.clear("fleet", result)
        except ValueError:
            logger.warning("fleet clear result %r not counted: unknown", result[:32])

    def producer_answered(self, answered: Answered) -> None:
        self._metrics.producer_answers(
            answered.provider, answered.model, answered.saved_model, answered.jobs,
            answered.input_tokens, answered.output_tokens,
        )  # fmt: skip


class TelemetryHooks:
    """The hooks of a process with metrics and traces (``telemetry``, this process's one)."""

    def __init__(self, telemetry: ProcessTelemetry) -> None:
        self.telemetry = telemetry
        self.metrics = telemetry.metrics
        self._pid = os.getpid()

    def wrap_l2(self, backend: L2Backend) -> L2Backend:
        return InstrumentedL2(backend, self.metrics)

    def wrap_invalidator(self, invalidator: Invalidator) -> Invalidator:
        return InstrumentedInvalidator(invalidator, self.metrics)

    def job_observer(self) -> JobObserver | None:
        return self.telemetry.observer

    def resilience_observer(self) -> ResilienceObserver | None:
        return ResilienceMetrics(self.metrics)

    def budget_observer(self) -> BudgetObserver | None:
        return BudgetMetrics(self.metrics)

    def fleet_counts(self) -> FleetCounts | None:
        return FleetMetrics(self.metrics)

    def start(self, stats: Callable[[], CacheStats] | None) -> None:
        self.telemetry.start(stats)

    def close(self) -> None:
        self.telemetry.stop()
        shutdown_tracing()
        if is_multiprocess_mode():
            mark_dead(self._pid)
