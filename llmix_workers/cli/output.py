"""Tables and messages that show every digit: rich on a terminal, plain text otherwise.

A table is never cut to the terminal's width (it is printed as wide as it needs), and when
output is not a terminal (a pipe, a file, CI) it is plain aligned text without colour or box
drawing. Messages are never hard-wrapped.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def console(*, stderr: bool = False) -> Console:
    """A console that soft-wraps (never inserts line breaks) and highlights nothing itself."""
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def print_table(
    out: Console,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    left: Sequence[str] = (),
) -> None:
    """One table; columns named in ``left`` are left-aligned, the others right-aligned."""
    if not out.is_terminal:
        out.print(plain_table(title, columns, rows, left=left), markup=False, soft_wrap=True)
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column in left else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    needed = Measurement.get(out, out.options.update_width(100_000), table).maximum
    width = out.width
    out.width = max(width, needed)  # rich caps a print's width at the console's
    try:
        out.print(table, crop=False)
    finally:
        out.width = width


def plain_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], *, left: Sequence[str] = ()
) -> str:
    """``rows`` as plain aligned text under ``title``, two spaces between columns."""
    widths = [len(column) for column in columns]
    for row in rows:
        widths = [max(width, len(_plain(cell))) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            _plain(cell).ljust(width) if column in left else _plain(cell).rjust(width)
            for column, cell, width in zip(columns, cells, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([title, line(columns), *(line(row) for row in rows)])


def _plain(cell: str) -> str:
    from rich.text import Text

    return Text.from_markup(cell).plain
