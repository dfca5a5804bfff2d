"""Generators of the documentation's reference pages, from the code.

``python -m docgen`` (``make reference``) writes every page of :data:`PAGES`;
``python -m docgen --check`` exits 1 naming the pages that differ from what the code makes, and
``tests/docs/test_reference_pages.py`` does the same in the test suite.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from docgen.cli_page import render_cli
from docgen.settings_page import render_settings
from docgen.telemetry_page import render_telemetry

ROOT: Final = Path(__file__).resolve().parent.parent
REFERENCE: Final = ROOT / "docs" / "reference"

#: Each generated page and the function that renders it.
PAGES: Final[dict[Path, Callable[[], str]]] = {
    REFERENCE / "cli.md": render_cli,
    REFERENCE / "settings.md": render_settings,
    REFERENCE / "telemetry.md": render_telemetry,
}


def stale_pages() -> list[Path]:
    """The generated pages whose committed text differs from what the code renders now."""
    return [path for path, render in PAGES.items() if _read(path) != render()]


def write_pages() -> list[Path]:
    """Write every generated page; return those that changed."""
    changed = []
    for path, render in PAGES.items():
        text = render()
        if _read(path) != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None
