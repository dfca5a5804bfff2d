"""The shell and Python examples of the README and the site, read from the Markdown.

A fenced block in ``sh``, ``bash``, ``shell`` or ``console`` is a shell example, one in
``python`` or ``py`` a Python example; other languages (``toml``, ``yaml``, ``text``, ``json``)
are not run. An HTML comment on the line before a block (blank lines between are allowed) says
how to run it:

- ``<!-- not-run: REASON -->``: never run; the reason says what it needs that the tests cannot
  have (a cluster, your own key) or where the same command is tested;
- ``<!-- run: exit=1 -->``: the exit status the shell block must end with (default 0);
- ``<!-- run: background ready="TEXT" -->``: a command that runs until stopped (a worker, the
  stub): started in the background, waited for until its output shows TEXT, stopped with SIGTERM
  when the page's last block has run; it must still be running then.

A page says what its examples need once, anywhere: ``<!-- examples: workers=N -->`` starts N
worker processes beside the private Redis and stub provider every page gets.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
SHELL: Final = frozenset({"sh", "bash", "shell", "console"})
PYTHON: Final = frozenset({"python", "py"})

_FENCE: Final = re.compile(r"^```\s*([\w+-]*)")
_DIRECTIVE: Final = re.compile(r"^<!--\s*(not-run|run)\s*:?(.*?)-->\s*$")
_PAGE: Final = re.compile(r"^<!--\s*examples\s*:(.*?)-->\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its code and how to run it."""

    path: Path
    line: int
    lang: str
    code: str
    not_run: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def kind(self) -> str | None:
        """``shell``, ``python``, or None for a block that is not an example."""
        return "shell" if self.lang in SHELL else "python" if self.lang in PYTHON else None


@dataclass(frozen=True)
class Page:
    path: Path
    blocks: list[Block]
    workers: int

    @property
    def runnable(self) -> list[Block]:
        return [block for block in self.blocks if block.kind and block.not_run is None]


def pages() -> list[Path]:
    """The README and every page of the site."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def read_page(path: Path) -> Page:
    text = path.read_text(encoding="utf-8")
    options = {}
    for match in _PAGE.finditer(text):
        options.update(_options(match.group(1)))
    return Page(path, list(_blocks(path, text.splitlines())), int(options.get("workers", 0)))


def _blocks(path: Path, lines: list[str]) -> list[Block]:
    found = []
    index = 0
    directive: tuple[str, str] | None = None
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence is None:
            match = _DIRECTIVE.match(line.strip())
            if match:
                directive = (match.group(1), match.group(2).strip())
            elif line.strip():
                directive = None
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        code = "\n".join(lines[index + 1 : end]) + "\n"
        not_run = directive[1] if directive and directive[0] == "not-run" else None
        options = _options(directive[1]) if directive and directive[0] == "run" else {}
        found.append(Block(path, index + 1, fence.group(1).lower(), code, not_run, options))
        directive = None
        index = end + 1
    return found


def _options(text: str) -> dict[str, str]:
    """``a=1 b="two words" flag`` -> {"a": "1", "b": "two words", "flag": ""}."""
    pairs = {}
    for word in shlex.split(text):
        name, _, value = word.partition("=")
        pairs[name] = value
    return pairs
