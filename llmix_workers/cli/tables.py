"""Tables for ``cache clear`` and ``cache stats``: every digit shown, plain when piped."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from llmix_workers.cli.fleet import key_problem
from llmix_workers.cli.output import console as make_console
from llmix_workers.cli.output import print_table
from llmix_workers.fleet.control import ClearReport, Replies


def print_clear(report: ClearReport, console: Console | None = None) -> None:
    out = console or make_console()
    if report.generation is None:  # the generation never moved: nothing happened anywhere
        out.print(f"[red]cache clear failed:[/red] {escape(report.l2_error or '')}", soft_wrap=True)
        return
    rows = [[row["node"], f"{row['processes']:,}", f"{row['dropped']:,}"]
            for row in report.nodes()]  # fmt: skip
    for member in report.silent:
        node, _, pid = member.partition("|")
        rows.append([f"[red]{node} (pid {pid})[/red]", "[red]silent[/red]", "-"])
    for member in report.expired:
        node, _, pid = member.partition("|")
        rows.append([f"[yellow]{node} (pid {pid})[/yellow]", "[yellow]lease ran out[/yellow]", "-"])
    title = f"cache clear: generation {report.generation}, {report.l2_deleted:,} L2 keys deleted"
    print_table(out, title, ("node", "processes", "L1 entries dropped"), rows, left=("node",))
    out.print(
        f"L2: {report.l2_s * 1000:.1f} ms; acknowledgements: {report.ack_s * 1000:.1f} ms",
        soft_wrap=True,
    )
    if report.l2_error:
        out.print(
            "[red]L2 clear failed, L2 reads stay blocked fleet-wide:[/red] "
            + escape(report.l2_error),
            soft_wrap=True,
        )
    if report.silent:
        names = ", ".join(report.silent)
        out.print(
            f"[red]still serving an older generation:[/red] {names} (neither acknowledged nor "
            "out of lease yet; wait fleet.member_ttl_s and clear again)",
            soft_wrap=True,
        )
    if report.unproven:
        out.print(f"[red]not proven complete:[/red] {escape(report.unproven)}", soft_wrap=True)
    if report.complete:
        out.print("[green]clear complete[/green]", soft_wrap=True)


def print_stats(replies: Replies, l2_keys: int | None, console: Console | None = None) -> None:
    out = console or make_console()
    columns = ("node", "pid", "L1 size", "L1 max", "L1 hits", "L2 hits", "misses", "L2 healthy",
               "L2 blocked", "generation")  # fmt: skip
    rows = [
        [a["node"], str(a["pid"]), f"{a['l1Size']:,}", f"{a['l1Max']:,}", f"{a['l1Hits']:,}",
         f"{a['l2Hits']:,}", f"{a['misses']:,}", str(a["l2Healthy"]), str(a["l2Blocked"]),
         str(a["generation"])]
        for a in replies.answers
    ]  # fmt: skip
    keys = "unknown" if l2_keys is None else f"{l2_keys:,}"
    title = f"cache stats: {len(replies.answers)} processes, L2 keys: {keys}"
    print_table(out, title, columns, rows, left=("node",))
    if replies.silent:
        out.print(f"[red]no answer from:[/red] {', '.join(replies.silent)}", soft_wrap=True)
    for a in replies.answers:
        problem = key_problem(a["apiKeys"]) if "apiKeys" in a else None
        if problem:
            out.print(f"[red]{a['node']} (pid {a['pid']}):[/red] {escape(problem)}", soft_wrap=True)
