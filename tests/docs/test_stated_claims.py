"""What the README, the site, settings.toml and the docstrings say a setting does matches the code
(issue 21, defect 6).

The generated pages (settings, metrics, CLI) and settings.toml are checked elsewhere against the
code; these check the prose around them:

- every ``section.field`` followed by a number in parentheses, "``llm.key_cooloff_s`` (300 s)",
  states that field's default;
- every paragraph that says what happens to an API key a provider rejects (401/403) names
  ``key_cooloff_s``: the README once said such a key was retired "for the life of the process"
  while the code set it aside for 300 s per endpoint.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmix_workers.settings import Settings

ROOT = Path(__file__).parents[2]
STATED = re.compile(r"`([a-z_]+)\.([a-z_0-9]+)`[^`.;]{0,6}?\((\d[\d_,.]*)\s*(s|ms)?\)")
KEY_FATE = re.compile(r"\b(retire[sd]?|set aside|life of the process|for good|forever)\b", re.I)


def texts() -> Iterator[tuple[str, str]]:
    """(where, text) of every page, settings.toml, and every docstring of the package."""
    for path in [
        ROOT / "README.md",
        ROOT / "settings.toml",
        *sorted((ROOT / "docs").rglob("*.md")),
    ]:
        yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "llmix_workers").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    yield f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 1)}", doc


def default_of(section: str, field: str) -> Any:
    sections = Settings()
    part = getattr(sections, section, None)
    if part is None or field not in type(part).model_fields:
        return None
    return getattr(part, field)


def stated_defaults(text: str) -> Iterator[tuple[str, float, float]]:
    """(setting, stated, actual) for each stated default of a known numeric setting."""
    for section, field, number, unit in STATED.findall(text):
        actual = default_of(section, field)
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            continue
        stated = float(number.replace(",", "").replace("_", ""))
        if unit == "ms" and field.endswith("_s"):
            stated /= 1000
        yield f"{section}.{field}", stated, float(actual)


def key_fate_sentences(text: str) -> Iterator[str]:
    """Paragraphs (tables left out) about the fate of a key a provider rejected that do not
    name its cool-off."""
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(line for line in paragraph.splitlines() if not line.startswith("|"))
        flat = " ".join(flat.split())
        if re.search(r"\b40[13]\b", flat) and re.search(r"\bkeys?\b", flat, re.I):
            if KEY_FATE.search(flat) and "key_cooloff_s" not in flat:
                yield flat


def test_every_stated_default_is_the_default() -> None:
    wrong = [
        f"{where}: {setting} stated {stated:g}, default {actual:g}"
        for where, text in texts()
        for setting, stated, actual in stated_defaults(text)
        if stated != actual
    ]
    assert wrong == []


def test_what_happens_to_a_rejected_key_names_its_cool_off() -> None:
    vague = [
        f"{where}: {sentence}" for where, text in texts() for sentence in key_fate_sentences(text)
    ]
    assert vague == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("`llm.key_cooloff_s` (300 s) and `cache.ttl_s` (3600 s)", []),
        ("`llm.key_cooloff_s` (30 s)", [("llm.key_cooloff_s", 30.0, 300.0)]),
        ("`cache.l1_max_entries` (1,000)", []),
        ("`worker.pool` (`LLMIX_WORKER__POOL=prefork`)", []),
    ],
)
def test_the_stated_default_check_reads_numbers(text: str, found: list[Any]) -> None:
    assert [f for f in stated_defaults(text) if f[1] != f[2]] == found


def test_the_key_check_finds_the_old_claim() -> None:
    old = ("A comma-separated value is a key pool: a 429 moves to the next key, a 401/403 retires "
           "the key for the life of the process and the call goes on with the next one.")  # fmt: skip
    assert list(key_fate_sentences(old)) == [old]
    now = "A key the provider rejects (401 or 403) is set aside for `llm.key_cooloff_s` (300 s)."
    assert list(key_fate_sentences(now)) == []
