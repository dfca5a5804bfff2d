"""PrivatePrometheus: the real Debian ``prometheus`` server on a free loopback port, for tests.

It scrapes the given ``host:port`` targets every second under one job name, keeps its TSDB in a
temporary directory removed by :meth:`PrivatePrometheus.close`, optionally loads rule files, and
answers PromQL through its HTTP API. The query helpers that read the dashboard and the alert
rules live in :mod:`llmix_workers.testing.promql` and are re-exported here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

import httpx

from llmix_workers.errors import ConfigError, LlmixError
from llmix_workers.testing.promql import alert_queries, dashboard_queries, metric_names
from llmix_workers.testing.redis_server import free_port
from llmix_workers.testing.server import PrivateServer

__all__ = [
    "PrivatePrometheus",
    "PrometheusError",
    "alert_queries",
    "dashboard_queries",
    "find_prometheus",
    "metric_names",
]

DEBIAN_BINARY = "/usr/bin/prometheus"
INSTALL_HINT = "no prometheus binary found: install it with `apt-get install prometheus`"


class PrometheusError(LlmixError):
    """Raised when the private Prometheus does not start, or answers a request with an error."""


def find_prometheus() -> str:
    """Path of the server: ``$LLMIX_PROMETHEUS``, ``prometheus`` on PATH, then Debian's path.

    Raises:
        ConfigError: none exists; the message says to ``apt-get install prometheus``.
    """
    found = os.environ.get("LLMIX_PROMETHEUS") or shutil.which("prometheus")
    if found:
        return found
    if Path(DEBIAN_BINARY).is_file():
        return DEBIAN_BINARY
    raise ConfigError(INSTALL_HINT)


class PrivatePrometheus(PrivateServer):
    """One Prometheus process owned by this object (use as a context manager).

    Parameters:
        targets: ``host:port`` endpoints serving ``/metrics``, all scraped under ``job``.
        job: the scrape job name, hence the ``job`` label of every scraped series.
        rule_files: rule files (e.g. ``dashboards/alerts.yml``) loaded and evaluated every second.
        scrape_interval_s: scrape and rule evaluation interval, in seconds.
    """

    def __init__(
        self,
        targets: Sequence[str],
        job: str = "llmix-workers",
        rule_files: Sequence[str | Path] = (),
        scrape_interval_s: float = 1.0,
        binary: str | None = None,
    ) -> None:
        self.binary = binary or find_prometheus()
        self.targets = list(targets)
        self.job = job
        self.rule_files = [str(Path(f).resolve()) for f in rule_files]
        self.scrape_interval_s = scrape_interval_s
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="llmix-prometheus-")
        self._process: subprocess.Popen[bytes] | None = None
        self._http = httpx.Client(base_url=self.url, timeout=10.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        """The configuration written for the server (JSON is valid YAML)."""
        interval = f"{round(self.scrape_interval_s * 1000)}ms"
        return {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
            },
            "rule_files": self.rule_files,
            "scrape_configs": [
                {"job_name": self.job, "static_configs": [{"targets": self.targets}]}
            ],
        }

    def start(self, timeout_s: float = 30.0) -> Self:
        """Start the server and wait until ``/-/ready`` answers 200.

        Raises:
            PrometheusError: it exited (bad config, port taken) or was not ready in time.
        """
        root = Path(self._dir.name)
        config = root / "prometheus.yml"
        config.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
        args = [
            self.binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        with open(root / "prometheus.log", "ab") as log:
            self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self._poll(self._ready, timeout_s, "ready")
        return self

    def wait_for_targets_up(self, timeout_s: float = 30.0) -> None:
        """Wait until every target has been scraped successfully at least once."""

        def all_up() -> bool:
            active = self._get("/api/v1/targets", {"state": "active"})["activeTargets"]
            mine = [t for t in active if t["labels"].get("job") == self.job]
            return len(mine) == len(self.targets) and all(t["health"] == "up" for t in mine)

        self._poll(all_up, timeout_s, f"all {len(self.targets)} targets up")

    def wait_for_scrapes(self, count: int = 3, timeout_s: float = 30.0) -> None:
        """Wait until every target has ``count`` scrapes stored, enough for ``rate()``."""
        expr = f'min(count_over_time(up{{job="{self.job}"}}[5m])) >= {count}'
        self._poll(lambda: bool(self.query(expr)), timeout_s, f"{count} scrapes")

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate ``expr`` now through ``/api/v1/query``.

        Returns the result samples (``metric``, ``value``); a scalar or string result comes back
        as one sample with no labels. Raises :class:`PrometheusError` on a PromQL error.
        """
        data = self._get("/api/v1/query", {"query": expr})
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def query_range(
        self, expr: str, start: float, end: float, step_s: float
    ) -> list[dict[str, Any]]:
        """Evaluate ``expr`` every ``step_s`` seconds from ``start`` to ``end`` (unix seconds)
        through ``/api/v1/query_range``.

        Returns the result series (``metric``, ``values`` as ``[time, "value"]`` pairs; a
        scalar expression gives one series without labels). Raises :class:`PrometheusError` on
        a PromQL error.
        """
        params = {
            "query": expr,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step_s:g}",
        }
        data = self._get("/api/v1/query_range", params)
        return list(data["result"])

    def rules(self) -> list[dict[str, Any]]:
        """The loaded rule groups as ``/api/v1/rules`` reports them (health, last error...)."""
        return list(self._get("/api/v1/rules", {})["groups"])

    def log_tail(self, lines: int = 20) -> str:
        path = Path(self._dir.name) / "prometheus.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and delete its data."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._process = None
        self._http.close()
        self._dir.cleanup()

    def _ready(self) -> bool:
        try:
            return self._http.get("/-/ready").status_code == 200
        except httpx.TransportError:
            return False

    def _get(self, path: str, params: dict[str, str]) -> Any:
        response = self._http.get(path, params=params)
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def _poll(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise PrometheusError(f"prometheus exited before {what}: {self.log_tail()}")
            if check():
                return
            time.sleep(0.1)
        raise PrometheusError(f"prometheus: not {what} within {timeout_s}s: {self.log_tail()}")
