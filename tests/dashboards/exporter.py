"""A tiny real ``/metrics`` endpoint with a sample for every catalogue metric.

It plays a fleet in trouble, so that every alert condition of ``dashboards/alerts.yml`` holds and
each alert expression returns data: L2 unhealthy, 3 hits (L1, L2, producer) per 30 misses (9%
hit ratio), 1 failed completion per 10 good ones (9% errors), the openai circuit breaker open. Counters and histograms
grow every 0.1 s from a background thread, so ``rate()`` is never zero; cached jobs take 1-4 ms,
uncached ones 1.2 s.
"""

from __future__ import annotations

import itertools
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from tests.dashboards.catalogue import BUCKETS_S, CATALOGUE

Metric = Counter | Gauge | Histogram

WEIGHTS = {"miss": 30.0, "ok": 10.0}
LATENCY_S = {"l1_hit": 0.001, "l2_hit": 0.004, "miss": 1.2}
GAUGES = {
    "llmix_l2_healthy": 0.0,
    "llmix_l1_entries": 42.0,
    "llmix_fleet_generation": 3.0,
    "llmix_fleet_lease_valid": 0.0,
    "llmix_worker_processes": 2.0,
}
BREAKER = {"openai": 2.0, "anthropic": 0.0}


def _label_sets(labels: dict[str, tuple[str, ...]]) -> list[dict[str, str]]:
    names = list(labels)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*labels.values())]


class CatalogueExporter:
    """Every catalogue metric in a private registry, served on a free loopback port."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.metrics: dict[str, tuple[Metric, list[dict[str, str]]]] = {}
        for name, (kind, labels) in CATALOGUE.items():
            args = (name, f"{name} (test exporter)", list(labels))
            metric: Metric
            if kind == "counter":
                metric = Counter(*args, registry=self.registry)
            elif kind == "gauge":
                metric = Gauge(*args, registry=self.registry)
            else:
                metric = Histogram(*args, buckets=BUCKETS_S, registry=self.registry)
            self.metrics[name] = (metric, _label_sets(labels))
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._run, name="exporter-ticker", daemon=True)
        self._server: WSGIServer | None = None

    def start(self) -> str:
        """Serve ``/metrics`` and start the ticker; returns the ``host:port`` to scrape."""
        self.tick()
        self._server, _ = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self._ticker.start()
        return f"127.0.0.1:{self._server.server_port}"

    def tick(self) -> None:
        """One 0.1 s step: counters grow, histograms observe, gauges are (re)set."""
        for name, (metric, label_sets) in self.metrics.items():
            for labels in label_sets:
                child = metric.labels(**labels) if labels else metric
                if isinstance(child, Counter):
                    child.inc(max(WEIGHTS.get(v, 1.0) for v in (*labels.values(), "")))
                elif isinstance(child, Histogram):
                    child.observe(LATENCY_S.get(labels.get("cache", ""), 0.8))
                elif name == "llmix_circuit_breaker_state":
                    child.set(BREAKER[labels["provider"]])
                else:
                    child.set(GAUGES[name])

    def close(self) -> None:
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join(5)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.tick()
