"""Reading a worker node's ``/metrics`` page: samples by name and labels, promtool's verdict."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from llmix_workers.testing.local_fleet import LocalWorker
from llmix_workers.testing.waiting import DEFAULT_TIMEOUT_S
from llmix_workers.testing.waiting import eventually as wait

PROMTOOL = "/usr/bin/promtool"


class Page:
    """One scrape of a node's ``/metrics`` (text format)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [
            (s.name, s.labels, s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples called ``name`` whose labels include ``labels`` (0 if none)."""
        return sum(v for n, ls, v in self.samples if n == name and labels.items() <= ls.items())

    def has(self, name: str) -> bool:
        return any(n == name for n, _, _ in self.samples)


def scrape(worker: LocalWorker) -> Page:
    """Fetch and parse ``worker``'s ``/metrics``."""
    response = httpx.get(f"http://127.0.0.1:{worker.metrics_port}/metrics", timeout=10)
    response.raise_for_status()
    return Page(response.text)


def probe(worker: LocalWorker, path: str) -> int:
    """The status code of ``/healthz`` or ``/readyz`` on ``worker``."""
    return httpx.get(f"http://127.0.0.1:{worker.metrics_port}{path}", timeout=10).status_code


def eventually(check: Callable[[], bool], what: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Wait until ``check()`` holds; fail naming ``what`` if it never does (not a timing test:
    the deadline only bounds a hang)."""
    wait(check, what, timeout_s=timeout_s, interval_s=0.2)


def promtool_check(text: str) -> None:
    """Fail with promtool's complaints unless ``promtool check metrics`` accepts ``text``."""
    binary = shutil.which("promtool") or PROMTOOL
    if not shutil.which(binary):
        pytest.fail("promtool not found: install Debian's Prometheus (apt-get install prometheus)")
    done = subprocess.run(
        [binary, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
