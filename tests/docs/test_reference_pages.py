"""The generated reference pages are what the code makes now, and they say what the code says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import docgen
from docgen import reliability as reliability_report
from docgen.telemetry_page import render_telemetry
from llmix_workers.telemetry import tracing
from llmix_workers.telemetry.catalogue import LABEL_VALUES, NOTES, create_families
from llmix_workers.telemetry.spans import SPANS
from tests.unit.telemetry.test_catalogue import CATALOGUE


def test_generated_pages_are_current() -> None:
    stale = [str(path.relative_to(docgen.ROOT)) for path in docgen.stale_pages()]
    assert stale == [], f"run `make reference` and commit: {stale}"


def test_the_check_sees_a_stale_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "telemetry.md"
    page.write_text(render_telemetry().replace("llmix_l2_healthy", "llmix_l2_ok"))
    monkeypatch.setitem(docgen.PAGES, page, render_telemetry)
    assert page in docgen.stale_pages()
    assert docgen.write_pages() == [page] and page.read_text() == render_telemetry()


def test_the_metrics_table_names_every_family_and_label() -> None:
    page = render_telemetry()
    for name, (kind, labels) in CATALOGUE.items():
        row = next(line for line in page.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"| {kind} |" in row
        for label in labels:
            assert f"`{label}`" in row, (name, label)


def test_label_values_and_notes_name_real_families() -> None:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    create_families(registry)
    names = {family.name for family in registry.collect()}
    assert {family for family, _ in LABEL_VALUES} <= names
    assert set(NOTES) <= names


def test_every_span_constant_is_in_the_span_catalogue() -> None:
    constants = {value for name, value in vars(tracing).items() if name.startswith("SPAN_")}
    assert constants == {spec.name for spec in SPANS}


def test_reliability_page_is_what_its_json_makes() -> None:
    data = json.loads(reliability_report.JSON_PATH.read_text(encoding="utf-8"))
    assert reliability_report.MARKDOWN_PATH.read_text(encoding="utf-8") == (
        reliability_report.render(data)
    ), "run `make reliability` and commit"


def test_rendering_the_cli_page_leaves_the_cli_as_it_was() -> None:
    """click caches a command's help option the first time it is asked for: rendering with
    contexts built without the group's settings used to leave `-h` unknown to every command."""
    from click.testing import CliRunner

    from docgen.cli_page import render_cli
    from llmix_workers.cli import main

    render_cli()
    for args in (["enqueue", "-h"], ["cache", "clear", "-h"], ["-h"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
