"""``telemetry`` works with opentelemetry-api alone; tracing asks for the [otel] extra."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys

    class NoOtelExtra:
        blocked = ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.instrumentation")

        def find_spec(self, name, path=None, target=None):
            if name.startswith(self.blocked):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoOtelExtra())

    from prometheus_client import CollectorRegistry
    from llmix_workers.cache.backends.memory import MemoryL2
    from llmix_workers.errors import ConfigError
    from llmix_workers.settings import TelemetrySettings
    from llmix_workers.telemetry import health, instrumented, metrics, multiprocess, server, tracing

    backend = instrumented.InstrumentedL2(MemoryL2(), metrics.Metrics(CollectorRegistry(), max_models=20))
    backend.set("k", b"v", 10)
    assert backend.get("k") == b"v"
    assert tracing.setup_tracing(TelemetrySettings()) is None
    try:
        tracing.setup_tracing(TelemetrySettings(otel_enabled=True))
    except ConfigError as exc:
        print(exc)
    loaded = sorted(m for m in sys.modules if m.startswith(NoOtelExtra.blocked))
    print("loaded:", loaded)
    """
)


def test_telemetry_imports_and_runs_without_the_otel_extra() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    message, loaded = result.stdout.splitlines()
    assert message.startswith("telemetry.otel_enabled needs the [otel] extra")
    assert 'pip install "llmix_workers[otel]"' in message
    assert loaded == "loaded: []"
