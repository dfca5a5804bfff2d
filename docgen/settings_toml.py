"""Read ``settings.toml`` as documentation: every option, the comment above it, its value.

The file is the operators' reference, so the settings page takes each option's meaning from it.
The rules of the file, which ``tests/docs/test_settings_toml.py`` holds it to:

- each option has a comment of its own, right above it (prose lines starting with ``# ``);
- an option set in the file holds its default; one with no default (a URL, a table of names) is
  shown commented out, with an example value that must be valid;
- a comment block right after a section header, followed by a blank line, is about the section.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

_HEADER: Final = re.compile(r"^\[([A-Za-z0-9_.\"-]+)\]\s*$")


@dataclass(frozen=True)
class Option:
    """One option of the file: its dotted path, the comment above it, how it appears."""

    path: str
    comment: str
    value: str
    commented: bool


@dataclass
class SettingsFile:
    options: dict[str, Option] = field(default_factory=dict)
    #: Section name -> the comment about the whole section (lines kept as they are).
    notes: dict[str, str] = field(default_factory=dict)
    #: Every commented-out header and assignment, uncommented: must load as valid settings.
    examples: str = ""


def parse(path: Path, tables: Collection[str]) -> SettingsFile:
    """Parse ``path``; ``tables`` are the dotted paths of options that are tables (their keys
    are entries, not options)."""
    result = SettingsFile()
    section, table = "", None
    block: list[str] = []
    fresh_header = False
    examples: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        commented = line.startswith("#")
        text = line[1:].strip() if commented else line
        if not line:
            if block and fresh_header:
                result.notes[section] = "\n".join(block)
            block, fresh_header = [], False
            continue
        header = _HEADER.match(text)
        if header and (not commented or header.group(1) in tables):
            name = header.group(1)
            examples.append(text)
            if name in tables:
                result.options[name] = Option(name, _join(block), "", commented)
                table, fresh_header = name, False
            else:
                section, table, fresh_header = name, None, True
            block = []
            continue
        assignment = _assignment(text)
        if assignment is not None:
            if commented:
                examples.append(text)
            if table is None:
                key = f"{section}.{assignment}"
                result.options[key] = Option(key, _join(block), text.partition("=")[2].strip(),
                                             commented)  # fmt: skip
            block, fresh_header = [], False
            continue
        if commented:
            block.append(raw.strip()[2:] if raw.strip().startswith("# ") else text)
    result.examples = "\n".join(examples) + "\n"
    return result


def _assignment(text: str) -> str | None:
    """The key of ``text`` when it is one TOML assignment, else None."""
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    if len(parsed) != 1:
        return None
    return next(iter(parsed))


def _join(block: list[str]) -> str:
    return " ".join(" ".join(block).split())
