"""``llmix-workers results | revoke | purge``: jobs sent earlier, found again by task id."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from llmix_workers.cli.batch import check_writable
from llmix_workers.cli.group import CONTEXT, friendly_errors, settings_from
from llmix_workers.cli.output import console
from llmix_workers.errors import ConfigError

IDS_HELP = "File of task ids, one per input line, as written by enqueue --ids."


def read_ids(path: str) -> list[str | None]:
    """Task ids by input line (None for a line that was not sent).

    Raises:
        ConfigError: the file cannot be read or holds no task id.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--ids {path}: cannot read it ({exc})") from None
    ids = [line.strip() or None for line in lines]
    if not any(ids):
        raise ConfigError(f"--ids {path}: holds no task id")
    return ids


@click.command("results", context_settings=CONTEXT)
@click.option("--ids", "ids_file", required=True, type=click.Path(dir_okay=False), help=IDS_HELP)
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write results as JSONL, a line per id line (default: stdout).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True,
              help="With --output: print the summary as JSON on stdout.")  # fmt: skip
@click.option("--timeout", "timeout_s", type=float, default=600.0, show_default=True,
              help="Seconds to wait for jobs still running.")  # fmt: skip
@click.pass_context
@friendly_errors
def results(
    ctx: click.Context, ids_file: str, output: str | None, as_json: bool, timeout_s: float
) -> None:
    """Collect the results of jobs sent earlier (enqueue --ids FILE), waiting for running ones."""
    from llmix_workers.cli.reach import require
    from llmix_workers.cli.waiting import wait_and_report
    from llmix_workers.producer import CompletionProducer

    if as_json and output is None:
        raise click.UsageError("--json needs --output FILE (stdout carries the JSON)")
    ids = read_ids(ids_file)
    check_writable(output)
    settings = settings_from(ctx)
    require(settings, ("results",))
    producer = CompletionProducer(settings)
    batch = producer.batch_of(ids)
    code = wait_and_report(producer, batch, output=output, timeout_s=timeout_s, as_json=as_json,
                           err=console(stderr=True), started=time.monotonic())  # fmt: skip
    sys.exit(code)


@click.command("revoke", context_settings=CONTEXT)
@click.option("--ids", "ids_file", required=True, type=click.Path(dir_okay=False), help=IDS_HELP)
@click.option("--terminate", is_flag=True, help="Also stop jobs already running.")
@click.pass_context
@friendly_errors
def revoke(ctx: click.Context, ids_file: str, terminate: bool) -> None:
    """Cancel jobs sent earlier: live workers skip them when they come up.

    Revocation is held in the memory of the workers alive now; a worker started later does not
    know it (use purge to empty a whole queue).
    """
    from llmix_workers.cli.reach import require
    from llmix_workers.worker.app import create_app

    ids = [task_id for task_id in read_ids(ids_file) if task_id]
    settings = settings_from(ctx)
    require(settings, ("broker",))
    app = create_app(settings)
    app.control.revoke(ids, terminate=terminate, signal="SIGTERM")
    click.echo(f"revoked {len(ids):,} jobs" + (" (running ones stopped)" if terminate else ""))


@click.command("purge", context_settings=CONTEXT)
@click.option("-Q", "--queue", default=None, help="Queue to empty (default: worker.queue).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
@friendly_errors
def purge(ctx: click.Context, queue: str | None, yes: bool) -> None:
    """Delete every job waiting in the queue (jobs already running are not touched)."""
    from llmix_workers.cli.reach import require
    from llmix_workers.worker.app import create_app

    settings = settings_from(ctx)
    queue = queue or settings.worker.queue
    require(settings, ("broker",))
    if not yes:
        click.confirm(f"delete every job waiting in queue {queue!r}?", abort=True)
    app = create_app(settings)
    with app.connection_for_write() as connection:
        removed = connection.default_channel.queue_purge(queue) or 0
    click.echo(f"purged {removed:,} waiting jobs from queue {queue!r}")
