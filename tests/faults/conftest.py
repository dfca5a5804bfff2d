"""The fault suite's shared fixtures: the figures recorder, written once per session."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from docgen.reliability import ScenarioRecord, merge_records

Record = Callable[[ScenarioRecord], None]


@pytest.fixture(scope="session")
def record() -> Iterator[Record]:
    """Collect scenario records; merge them into docs/explanations/reliability.json when the session ends,
    only when asked (``make faults`` sets ``LLMIX_RECORD_RELIABILITY=1``), so a plain test run
    leaves the committed figures alone."""
    records: list[ScenarioRecord] = []
    yield records.append
    if records and os.environ.get("LLMIX_RECORD_RELIABILITY") == "1":
        merge_records(records)
