"""The package reads top to bottom as the path of a job: no layer imports one above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "llmix_workers"

#: Package → packages it must never import (directly; TYPE_CHECKING imports included).
FORBIDDEN = {
    "cache": {
        "settings",
        "llm",
        "fleet",
        "jobs",
        "telemetry",
        "worker",
        "cli",
        "producer",
        "testing",
    },
    "llm": {"cache", "fleet", "jobs", "telemetry", "worker", "cli", "producer", "testing"},
    "fleet": {"jobs", "telemetry", "worker", "cli", "producer", "testing"},
    "jobs": {"worker", "cli", "producer", "testing"},
    "telemetry": {"worker", "cli", "producer", "testing"},
    "worker": {"cli", "testing"},
    "topology": {
        "settings",
        "cache",
        "llm",
        "fleet",
        "jobs",
        "telemetry",
        "worker",
        "cli",
        "producer",
        "testing",
    },
}
#: Kept re-exports of paths that moved (documented in earlier releases).
SHIMS = {PACKAGE / "llm" / "stub.py"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "llmix_workers" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_upward_imports(layer: str) -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported_packages(path) & FORBIDDEN[layer])
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        if path not in SHIMS
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_the_checker_sees_imports() -> None:
    assert "settings" in imported_packages(PACKAGE / "jobs" / "build.py")


def test_no_module_is_over_300_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 300
    }
    assert long == {}
