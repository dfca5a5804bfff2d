"""Prometheus metrics, health endpoints, prefork metrics and OpenTelemetry tracing.

Hooks in through wrappers (:class:`~llmix_workers.telemetry.instrumented.InstrumentedL2`) and
small methods called by the job code, never inside cache policy. Importable without the
OpenTelemetry SDK: only :mod:`~llmix_workers.telemetry.tracing`'s ``setup_tracing`` needs it.
"""
