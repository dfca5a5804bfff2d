"""docs/explanations/performance.md is what bench/performance_doc.py makes of docs/performance.json."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]
BENCH = ROOT / "bench"
DOCS = ROOT / "docs" / "explanations"


def renderer() -> ModuleType:
    """bench/performance_doc.py, imported as the benchmarks import it (bench/ on the path)."""
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(
            "performance_doc", BENCH / "performance_doc.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_committed_page_is_the_generated_one(tmp_path: Path) -> None:
    data = json.loads((DOCS / "performance.json").read_text())
    page = renderer().render(data, out=tmp_path)
    assert page == (DOCS / "performance.md").read_text(), "run `make performance-doc`"
    for image in sorted(tmp_path.glob("*.png")):
        assert f"]({image.name})" in page
        assert (DOCS / image.name).is_file(), f"{image.name} not committed beside the page"


def test_every_section_is_on_the_page() -> None:
    data = json.loads((DOCS / "performance.json").read_text())
    assert {"batch", "chunks", "scale_processes", "scale_clear_keys", "scale_memory",
            "scale_lookup"} <= set(data)  # fmt: skip
    page = (DOCS / "performance.md").read_text()
    assert page.count("**Bend:**") == 4
    assert f"{data['batch']['ratio_vs_noop']:.1f}×" in page
