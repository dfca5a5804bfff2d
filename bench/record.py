"""Keep a benchmark's result in ``docs/explanations/performance.json``, the data behind the
performance page of the documentation site (``docs/explanations/performance.md``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

PERFORMANCE_JSON = (
    Path(__file__).resolve().parent.parent / "docs" / "explanations" / "performance.json"
)


def record(section: str, row: dict[str, Any], path: Path = PERFORMANCE_JSON) -> None:
    """Replace ``section`` of the JSON file at ``path`` with ``row`` (plus when it was measured),
    leaving the other sections as they are."""
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    data[section] = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **row}
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
