"""One chart loaded by Helm's loader for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import helm_python as helm
import pytest

from tests.chart.support import load_chart


@pytest.fixture(scope="session")
def chart() -> Iterator[helm.Chart]:
    with load_chart() as loaded:
        yield loaded
