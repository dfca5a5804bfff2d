"""The values table of the Kubernetes guide says what helm/llmix-workers/values.yaml says."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.docs.examples import ROOT

GUIDE = ROOT / "docs" / "guides" / "kubernetes.md"
VALUES = ROOT / "helm" / "llmix-workers" / "values.yaml"
ROW = re.compile(r"^\| `([\w.]+)` \| `([^`]*)` \|")


def lookup(tree: dict[str, Any], path: str) -> Any:
    node: Any = tree
    for part in path.split("."):
        assert isinstance(node, dict) and part in node, f"{path}: not in values.yaml"
        node = node[part]
    return node


def test_every_single_value_row_matches_values_yaml() -> None:
    values = yaml.safe_load(VALUES.read_text())
    rows = [ROW.match(line) for line in GUIDE.read_text().splitlines()]
    checked = 0
    for row in filter(None, rows):
        path, shown = row.groups()
        actual = lookup(values, path)
        assert shown == _yaml_text(actual), f"{path}: the guide says {shown}, values.yaml {actual}"
        checked += 1
    assert checked >= 12


def _yaml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return "{}" if value == {} else str(value)
