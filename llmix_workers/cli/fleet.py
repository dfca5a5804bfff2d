"""``llmix-workers workers``: every live worker process, as the fleet's heartbeats and the
processes' own answers describe it (pool, concurrency, L2 health, API keys, last heartbeat)."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import click
import orjson
from rich.markup import escape

from llmix_workers.cli.group import CONTEXT, friendly_errors, settings_from
from llmix_workers.cli.output import console, print_table

NO_KEY = (
    "no API key found (set OPENAI_API_KEY or the like where the worker runs, unless its "
    "providers need none)"
)
COLUMNS = ("node", "pid", "pool", "concurrency", "L1 size", "L2 healthy", "L2 blocked",
           "API keys", "last heartbeat")  # fmt: skip


@click.command("workers", context_settings=CONTEXT)
@click.option("--timeout", "timeout_s", type=float, default=None,
              help="Seconds to wait for answers (default: fleet.clear_timeout_s).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the processes as JSON.")
@click.pass_context
@friendly_errors
def workers(ctx: click.Context, timeout_s: float | None, as_json: bool) -> None:
    """One row per live worker process; exit 1 when one is silent or has no usable API key."""
    from llmix_workers.cli.reach import require
    from llmix_workers.wiring.fleet import build_fleet_control

    settings = settings_from(ctx)
    require(settings, ("fleet",))
    control = build_fleet_control(settings)
    try:
        ages = control.roster.ages_s(control.roster.state(uuid.uuid4().hex[:16]).now_ms)
        replies, _ = control.stats(timeout_s=timeout_s)
    finally:
        control.close()
    rows = [_process(answer, ages) for answer in replies.answers]
    rows += [{"node": m.partition("|")[0], "pid": int(m.partition("|")[2] or 0), "silent": True,
              "heartbeatAgeS": _age(ages.get(m))} for m in replies.silent]  # fmt: skip
    problems = [row for row in rows if row.get("silent") or row.get("keyProblem")]
    if as_json:
        click.echo(orjson.dumps({"processes": rows}).decode())
    else:
        out = console()
        print_table(out, f"workers: {len(rows)} processes", COLUMNS,
                    [_cells(row) for row in rows], left=("node", "pool", "API keys"))  # fmt: skip
        for row in rows:
            if not row.get("silent") and "apiKeys" in row and not _any_key(row["apiKeys"]):
                out.print(
                    f"[yellow]{row['node']} (pid {row['pid']}):[/yellow] {NO_KEY}", soft_wrap=True
                )
        for row in problems:
            what = "no answer" if row.get("silent") else row["keyProblem"]
            out.print(
                f"[red]{row['node']} (pid {row['pid']}):[/red] {escape(what)}", soft_wrap=True
            )
        if not rows:
            out.print("[yellow]no live worker process[/yellow]", soft_wrap=True)
    sys.exit(1 if problems else 0)


def _any_key(keys: dict[str, dict[str, Any]]) -> bool:
    return any(health.get("keys") for health in keys.values())


def _age(age_s: float | None) -> float | None:
    return None if age_s is None else round(age_s, 1)


def _process(answer: dict[str, Any], ages: dict[str, float]) -> dict[str, Any]:
    keys: dict[str, dict[str, Any]] = answer.get("apiKeys") or {}
    row = {
        "node": answer["node"], "pid": answer["pid"], "pool": answer.get("pool"),
        "concurrency": answer.get("concurrency"), "l1Size": answer.get("l1Size"),
        "l2Healthy": answer.get("l2Healthy"), "l2Blocked": answer.get("l2Blocked"),
        "apiKeys": keys, "heartbeatAgeS": _age(ages.get(f"{answer['node']}|{answer['pid']}")),
    }  # fmt: skip
    problem = key_problem(keys) if "apiKeys" in answer else None
    if problem:
        row["keyProblem"] = problem
    return row


def key_problem(keys: dict[str, dict[str, Any]]) -> str | None:
    """What is wrong with a process's API keys, or None: a provider whose every key was
    rejected. (No key at all is only a note: keyless providers such as vLLM need none.)"""
    dead = [
        f"{name} (rejected; retried in {health.get('retryInS') or 0:g} s)"
        for name, health in keys.items()
        if health.get("keys") and not health.get("usable")
    ]
    return "no usable API key for " + ", ".join(dead) if dead else None


def _cells(row: dict[str, Any]) -> list[str]:
    if row.get("silent"):
        return [f"[red]{row['node']}[/red]", str(row["pid"]), "-", "-", "-", "-", "-",
                "[red]silent[/red]", _beat(row)]  # fmt: skip
    counts = [f"{name} {h.get('usable')}/{h.get('keys')}"
              for name, h in row["apiKeys"].items() if h.get("keys")]  # fmt: skip
    keys = ", ".join(counts) or "none found"
    if row.get("keyProblem"):
        keys = f"[red]{keys}[/red]"
    return [row["node"], str(row["pid"]), str(row["pool"] or "-"), str(row["concurrency"] or "-"),
            f"{row['l1Size'] or 0:,}", str(row["l2Healthy"]), str(row["l2Blocked"]), keys,
            _beat(row)]  # fmt: skip


def _beat(row: dict[str, Any]) -> str:
    age = row.get("heartbeatAgeS")
    return "-" if age is None else f"{age:g} s ago"
