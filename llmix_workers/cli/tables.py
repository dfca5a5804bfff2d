"""Rich tables for ``cache clear`` and ``cache stats``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from llmix_workers.fleet.control import ClearReport, Replies


def print_clear(report: ClearReport, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"cache clear: generation {report.generation}, "
                        f"{report.l2_deleted:,} L2 keys deleted")  # fmt: skip
    for column in ("node", "processes", "L1 entries dropped"):
        table.add_column(column, justify="left" if column == "node" else "right")
    for row in report.nodes():
        table.add_row(row["node"], str(row["processes"]), f"{row['dropped']:,}")
    for member in report.silent:
        node, _, pid = member.partition("|")
        table.add_row(f"[red]{node} (pid {pid})[/red]", "[red]silent[/red]", "-")
    console.print(table)
    console.print(
        f"L2: {report.l2_s * 1000:.1f} ms; acknowledgements: {report.ack_s * 1000:.1f} ms"
    )
    if report.l2_error:
        console.print(
            f"[red]L2 clear failed, L2 reads stay blocked fleet-wide:[/red] {report.l2_error}"
        )
    if report.silent:
        names = ", ".join(report.silent)
        console.print(
            f"[red]no acknowledgement from:[/red] {names} (they drop L1 at their next sync)"
        )
    if report.complete:
        console.print("[green]clear complete[/green]")


def print_stats(replies: Replies, l2_keys: int | None, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"cache stats: {len(replies.answers)} processes, "
                        f"L2 keys: {'unknown' if l2_keys is None else f'{l2_keys:,}'}")  # fmt: skip
    columns = ("node", "pid", "L1 size", "L1 max", "L1 hits", "L2 hits", "misses", "L2 healthy",
               "L2 blocked", "generation")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "node" else "right")
    for a in replies.answers:
        table.add_row(
            a["node"], str(a["pid"]), str(a["l1Size"]), str(a["l1Max"]), str(a["l1Hits"]),
            str(a["l2Hits"]), str(a["misses"]), str(a["l2Healthy"]), str(a["l2Blocked"]),
            str(a["generation"]),
        )  # fmt: skip
    console.print(table)
    if replies.silent:
        console.print(f"[red]no answer from:[/red] {', '.join(replies.silent)}")
