"""The fault suite's shared fixtures: the figures recorder, written once per session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from llmix_workers.testing.reliability_report import ScenarioRecord, merge_records

Record = Callable[[ScenarioRecord], None]


@pytest.fixture(scope="session")
def record() -> Iterator[Record]:
    """Collect scenario records; merge them into docs/reliability.json when the session ends."""
    records: list[ScenarioRecord] = []
    yield records.append
    if records:
        merge_records(records)
