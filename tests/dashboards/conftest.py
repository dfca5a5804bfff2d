"""Paths and the real Prometheus tools these tests need (they fail, never skip, without them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
DASHBOARD_JSON = DASHBOARDS / "llmix-workers.json"
ALERTS = DASHBOARDS / "alerts.yml"
ALERT_TESTS = DASHBOARDS / "alerts.test.yml"


@pytest.fixture(scope="session")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: install Debian's Prometheus (apt-get install prometheus)")
    return found
