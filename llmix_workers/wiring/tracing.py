"""Tracing for a process that sends jobs and exits (the CLI).

A worker sets tracing up per process through its hooks (:func:`~llmix_workers.wiring.worker.
process_hooks`); a producer embedded in an application leaves it to the application, whose SDK
and Celery instrumentation then trace its publishes. The command line is its own application:
with ``telemetry.otel_enabled`` it installs the SDK and the Celery instrumentation for the run,
so each job's publish span parents the job's spans on the workers, and flushes the spans at
the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from llmix_workers.settings import Settings
from llmix_workers.telemetry.tracing import setup_tracing, shutdown_tracing


@contextmanager
def traced_run(settings: Settings) -> Iterator[None]:
    """Trace what runs inside (nothing when ``telemetry.otel_enabled`` is off); export the
    spans before leaving.

    Raises:
        ConfigError: tracing is on but the ``[otel]`` extra is not installed.
    """
    provider = setup_tracing(settings.telemetry)
    try:
        yield
    finally:
        if provider is not None:
            shutdown_tracing()
