"""What ``llmix-workers enqueue`` does: read requests, send them, show progress and a summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from llmix_workers.cli.group import friendly_errors, settings_from
from llmix_workers.jobs.job import CACHE_MODES
from llmix_workers.settings import Settings

if TYPE_CHECKING:
    from llmix_workers.producer import CompletionProducer, JobOutcome


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
    from llmix_workers.cli.summary import BatchSummary
    from llmix_workers.producer import CompletionProducer

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


@click.command("enqueue")
@click.argument("prompt", required=False)
@click.option("--jsonl", "jsonl", type=click.File("r", encoding="utf-8"), default=None,
              help="File of requests, one JSON object per line ('-' for stdin).")  # fmt: skip
@click.option("--provider", default="openai", show_default=True)
@click.option("--model", default="gpt-4o-mini", show_default=True)
@click.option("--system", default=None, help="System message put before the prompt.")
@click.option("--temperature", type=float, default=None)
@click.option("--max-output-tokens", type=int, default=None)
@click.option("--base-url", default=None)
@click.option("--cache", "cache_mode", type=click.Choice(sorted(CACHE_MODES)), default=None,
              help="Cache control for a prompt given as an argument.")  # fmt: skip
@click.option("--ttl-s", type=int, default=None, help="Cache TTL for a prompt argument.")
@click.option("--wait/--no-wait", default=False, help="Wait for results and summarise them.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="With --wait: write results here as JSONL, in input order.")  # fmt: skip
@click.option("--timeout", "timeout_s", type=float, default=600.0, show_default=True)
@click.pass_context
@friendly_errors
def enqueue(
    ctx: click.Context,
    prompt: str | None,
    jsonl: Any,
    provider: str,
    model: str,
    system: str | None,
    temperature: float | None,
    max_output_tokens: int | None,
    base_url: str | None,
    cache_mode: str | None,
    ttl_s: int | None,
    wait: bool,
    output: str | None,
    timeout_s: float,
) -> None:
    """Enqueue one PROMPT, or every request of --jsonl; with --wait, collect the results."""
    if (prompt is None) == (jsonl is None):
        raise click.UsageError("give either a PROMPT or --jsonl FILE (not both)")
    if jsonl is not None:
        requests = read_jsonl(jsonl)
    else:
        requests = [prompt_request(
            prompt or "", provider=provider, model=model, system=system, temperature=temperature,
            max_output_tokens=max_output_tokens, base_url=base_url, cache=cache_mode, ttl_s=ttl_s,
        )]  # fmt: skip
    code = run_enqueue(settings_from(ctx), requests, wait=wait, output=output, timeout_s=timeout_s)
    sys.exit(code)
