"""The fault suite's figures file and the page rendered from it."""

from __future__ import annotations

import json
from pathlib import Path

from docgen.reliability import ScenarioRecord, main, merge_records, render


def record(name: str, completed: int) -> ScenarioRecord:
    return ScenarioRecord(name, "Family", "what was done", "what holds",
                          {"submitted": 10, "completed": completed}, {"bound": 2.5})  # fmt: skip


def test_records_merge_by_scenario_name(tmp_path: Path) -> None:
    path = tmp_path / "figures.json"
    merge_records([record("b", 1), record("a", 2)], path)
    merge_records([record("b", 9)], path)
    scenarios = json.loads(path.read_text())["scenarios"]
    assert list(scenarios) == ["a", "b"]
    assert (
        scenarios["b"]["figures"]["completed"] == 9 and scenarios["a"]["figures"]["completed"] == 2
    )


def test_the_page_shows_every_scenario_with_its_figures(tmp_path: Path) -> None:
    source, target = tmp_path / "figures.json", tmp_path / "page.md"
    merge_records([record("killed", 7)], source)
    assert main([str(source), str(target)]) == 0
    page = target.read_text()
    assert page == render(json.loads(source.read_text()))
    assert "| killed | 10 | 7 |" in page and "**Injected:** what was done" in page
    assert "- bound: 2.5" in page


def test_a_missing_figures_file_is_an_error(tmp_path: Path) -> None:
    assert main([str(tmp_path / "none.json"), str(tmp_path / "page.md")]) == 2
