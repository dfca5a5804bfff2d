"""Waiting for a batch as ``enqueue --wait`` and ``results`` do: progress, Ctrl-C, output.

The progress bar shows jobs done, failures and re-queues. Ctrl-C stops the wait at once, writes
every line collected so far (the others say they were not finished), saves the task ids still
queued or running, says how to collect or revoke them, and exits 130.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from llmix_workers.cli.batch import write_jsonl
from llmix_workers.cli.group import EXIT_INTERRUPTED
from llmix_workers.cli.summary import BatchSummary
from llmix_workers.cli.watchdog import NoWorkerWatchdog
from llmix_workers.producer import Batch, CompletionProducer, JobOutcome


def wait_and_report(
    producer: CompletionProducer,
    batch: Batch,
    *,
    output: str | None,
    timeout_s: float,
    as_json: bool,
    err: Console,
    started: float,
    send: Any = None,
) -> int:
    """Run ``send(batch, on_done)`` (if given), collect, write, summarise; the exit status."""
    counts = {"failed": 0, "requeued": 0}
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[extra]}"))  # fmt: skip
    queue = producer.settings.worker.queue
    watchdog = NoWorkerWatchdog(
        producer.app,
        queue,
        lambda text: err.print(f"[yellow]{escape(text)}[/yellow]", soft_wrap=True),
    )
    interrupted = False
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("jobs", total=None, extra="")

        def refresh() -> None:
            extra = f"failed {counts['failed']:,}  re-queued {counts['requeued']:,}"
            bar.update(task, total=batch.count or None, extra=extra)

        def on_done(outcome: JobOutcome) -> None:
            counts["failed"] += 0 if outcome.ok else 1
            bar.advance(task)
            refresh()

        def on_requeue(_: str) -> None:
            counts["requeued"] += 1
            refresh()

        try:
            if send is not None:
                send(batch, on_done)
            bar.update(task, completed=len(batch.outcomes))
            refresh()
            watchdog.start()
            producer.collect(batch, timeout_s=timeout_s, on_done=on_done, on_requeue=on_requeue)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            watchdog.stop()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not lose it
    try:
        return _report(batch, output, as_json, err, started, interrupted)
    finally:
        signal.signal(signal.SIGINT, previous)


def _report(
    batch: Batch, output: str | None, as_json: bool, err: Console, started: float, stop: bool
) -> int:
    outcomes = batch.ordered()
    if stop:
        outcomes = [_interrupted(o) if o.error_type == "NotFinished" else o for o in outcomes]
    write_jsonl(outcomes, output)
    summary = BatchSummary.of(outcomes, wall_s=time.monotonic() - started)
    if as_json:
        body = {**summary.as_json(), "interrupted": stop, "pending": len(batch.pending)}
        print(orjson.dumps(body).decode(), flush=True)
    else:
        summary.print(err)
    for outcome in outcomes[:1000]:
        if not outcome.ok and outcome.error_type not in ("Interrupted",):
            where = f" on {outcome.worker}" if outcome.worker else ""
            err.print(
                f"[red]line {outcome.index + 1} failed{where}:[/red] {escape(outcome.error or '')}",
                soft_wrap=True,
            )
    if stop:
        _explain_pending(batch, output, err)
        return EXIT_INTERRUPTED
    return 0 if summary.failures == 0 else 1


def _interrupted(outcome: JobOutcome) -> JobOutcome:
    return JobOutcome(
        outcome.index, error=f"interrupted before its result came (task {outcome.task_id})",
        error_type="Interrupted", task_id=outcome.task_id,
    )  # fmt: skip


def _explain_pending(batch: Batch, output: str | None, err: Console) -> None:
    if not batch.pending:
        err.print("interrupted: every job had finished", soft_wrap=True)
        return
    ids_file = Path(f"{output}.pending-ids" if output else f"llmix-pending-{int(time.time())}.ids")
    lines = [batch.task_ids.get(index, "") for index in range(batch.count)]
    pending = set(batch.pending)
    ids_file.write_text("".join(f"{i if i in pending else ''}\n" for i in lines))
    err.print(
        f"interrupted: {len(batch.pending):,} jobs are still queued or running (task ids in "
        f"{ids_file}).\n  collect them later: llmix-workers results --ids {ids_file} --output "
        f"FILE\n  or cancel them:      llmix-workers revoke --ids {ids_file}"
    )
