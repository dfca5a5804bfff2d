from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from llmix_workers.telemetry.metrics import Metrics
from tests.unit.telemetry.support import PRICES


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Metrics:
    return Metrics(registry, max_models=3, prices=PRICES)
