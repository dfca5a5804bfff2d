"""``llmix-workers cache clear|stats``: fleet-wide cache operations."""

from __future__ import annotations

import sys

import click
import orjson

from llmix_workers.cli.group import CONTEXT, friendly_errors, settings_from


@click.group("cache", context_settings=CONTEXT)
def cache_group() -> None:
    """Fleet-wide cache operations: clear, stats."""


@cache_group.command("clear", context_settings=CONTEXT)
@click.option("--timeout", "timeout_s", type=float, default=None,
              help="Seconds to wait for acknowledgements (fleet.clear_timeout_s).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@friendly_errors
def cache_clear(ctx: click.Context, timeout_s: float | None, as_json: bool) -> None:
    """Clear the shared L2 and every worker process's L1; exit 0 only when complete."""
    from llmix_workers.cli.reach import require
    from llmix_workers.cli.tables import print_clear
    from llmix_workers.wiring.fleet import build_fleet_control

    settings = settings_from(ctx)
    require(settings, ("fleet", "cache"))
    control = build_fleet_control(settings)
    try:
        report = control.clear(timeout_s=timeout_s)
    finally:
        control.close()
    if as_json:
        click.echo(orjson.dumps(report.as_json()).decode())
    else:
        print_clear(report)
    sys.exit(0 if report.complete else 1)


@cache_group.command("stats", context_settings=CONTEXT)
@click.option("--timeout", "timeout_s", type=float, default=None,
              help="Seconds to wait for answers (default: fleet.clear_timeout_s).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the stats as JSON.")
@click.pass_context
@friendly_errors
def cache_stats(ctx: click.Context, timeout_s: float | None, as_json: bool) -> None:
    """One row per worker process (L1, hits by tier, L2 health, generation) and the L2 size."""
    from llmix_workers.cli.reach import require
    from llmix_workers.cli.tables import print_stats
    from llmix_workers.wiring.fleet import build_fleet_control

    settings = settings_from(ctx)
    require(settings, ("fleet", "cache"))
    control = build_fleet_control(settings)
    try:
        replies, l2_keys = control.stats(timeout_s=timeout_s)
    finally:
        control.close()
    if as_json:
        body = {"processes": replies.answers, "silent": replies.silent, "l2Keys": l2_keys}
        click.echo(orjson.dumps(body).decode())
    else:
        print_stats(replies, l2_keys)
    sys.exit(0 if not replies.silent else 1)
