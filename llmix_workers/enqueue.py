"""What ``llmix-workers enqueue`` does: read requests, send them, show progress and a summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from llmix_workers.producer import CompletionProducer, JobOutcome
from llmix_workers.settings import Settings
from llmix_workers.summary import BatchSummary


def prompt_request(prompt: str, *, system: str | None = None, **fields: Any) -> dict[str, Any]:
    """A request for one prompt; ``fields`` are snake_case options, None ones left out."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    names = {"max_output_tokens": "maxOutputTokens", "base_url": "baseUrl", "ttl_s": "ttlS"}
    request: dict[str, Any] = {"messages": messages}
    for name, value in fields.items():
        if value is not None:
            request[names.get(name, name)] = value
    return request


def read_jsonl(handle: IO[str]) -> list[Mapping[str, Any] | Exception]:
    """One item per non-blank line: the parsed object, or an error naming the line."""
    items: list[Mapping[str, Any] | Exception] = []
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            items.append(ValueError(f"line {number}: not valid JSON ({exc})"))
    return items


def run_enqueue(
    settings: Settings,
    requests: list[Mapping[str, Any] | Exception],
    *,
    wait: bool,
    output: str | None,
    timeout_s: float,
) -> int:
    """Send the jobs; return the exit status (0 only when every job was accepted/succeeded)."""
    producer = CompletionProducer(settings)
    err = Console(stderr=True)
    if not wait:
        return _submit_only(producer, requests, err)
    started = time.monotonic()
    outcomes = _run_with_progress(producer, requests, timeout_s, err)
    summary = BatchSummary.of(outcomes, wall_s=time.monotonic() - started)
    write_jsonl(outcomes, output)
    err.print(summary.table())
    for outcome in outcomes:
        if not outcome.ok:
            err.print(f"[red]job {outcome.index + 1} failed:[/red] {outcome.error}", markup=True)
    return 0 if summary.failures == 0 else 1


def write_jsonl(outcomes: Iterable[JobOutcome], output: str | None) -> None:
    """The outcomes as JSONL, in input order, to ``output`` (stdout when None)."""
    data = b"".join(orjson.dumps(o.line()) + b"\n" for o in outcomes)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(output).write_bytes(data)


def _submit_only(
    producer: CompletionProducer, requests: list[Mapping[str, Any] | Exception], err: Console
) -> int:
    failed = 0
    for number, request in enumerate(requests, start=1):
        try:
            if isinstance(request, Exception):
                raise request
            print(producer.submit(request))
        except ValueError as exc:
            failed += 1
            err.print(f"[red]job {number} not sent:[/red] {exc}", markup=True)
    return 1 if failed else 0


def _run_with_progress(
    producer: CompletionProducer,
    requests: list[Mapping[str, Any] | Exception],
    timeout_s: float,
    err: Console,
) -> list[JobOutcome]:
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("jobs", total=len(requests))
        return producer.run_batch(
            requests, timeout_s=timeout_s, on_done=lambda _: bar.advance(task)
        )
