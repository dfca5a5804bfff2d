"""``llmix-workers enqueue``: read requests, send them, and with ``--wait`` collect the results.

Everything that could make the run useless is checked before the first job is sent: the
arguments, the output file's folder, and that the broker (and with ``--wait`` the result
backend) answer. One output line per input line, always; messages use input line numbers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from llmix_workers.cli.batch import Item, check_writable, read_jsonl
from llmix_workers.cli.group import CONTEXT, EXIT_INTERRUPTED, friendly_errors, settings_from
from llmix_workers.cli.output import console
from llmix_workers.errors import ConfigError
from llmix_workers.jobs.job import CACHE_MODES
from llmix_workers.settings import Settings


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


def run_enqueue(
    settings: Settings,
    requests: list[Item],
    *,
    wait: bool,
    output: str | None,
    timeout_s: float,
    ids_file: str | None = None,
    as_json: bool = False,
) -> int:
    """Send the jobs (and wait for them); return the exit status: 0 only when every job was
    sent (and succeeded), 1 otherwise, 130 when interrupted. With ``telemetry.otel_enabled``
    each job's publish span parents its spans on the worker."""
    from llmix_workers.cli.reach import require
    from llmix_workers.wiring.tracing import traced_run

    check_writable(output)
    check_writable(ids_file, "--ids")
    require(settings, ("broker", "results") if wait else ("broker",))
    with traced_run(settings):
        return _send(settings, requests, wait=wait, output=output, timeout_s=timeout_s,
                     ids_file=ids_file, as_json=as_json)  # fmt: skip


def _send(
    settings: Settings,
    requests: list[Item],
    *,
    wait: bool,
    output: str | None,
    timeout_s: float,
    ids_file: str | None,
    as_json: bool,
) -> int:
    from llmix_workers.cli.waiting import wait_and_report
    from llmix_workers.producer import Batch, CompletionProducer

    producer = CompletionProducer(settings)
    err = console(stderr=True)
    batch = Batch()
    if not wait:
        try:
            producer.start_batch(requests, batch=batch, cache_first=False)  # every line an id
        except KeyboardInterrupt:
            _report_sent(batch, ids_file, err)
            err.print(f"interrupted after line {batch.count:,}: later lines were not sent")
            return EXIT_INTERRUPTED
        return _report_sent(batch, ids_file, err)

    def send(batch: Batch, on_done: Any) -> None:
        producer.start_batch(requests, batch=batch, on_done=on_done)
        if ids_file is not None:
            _write_ids(batch, ids_file)

    return wait_and_report(producer, batch, output=output, timeout_s=timeout_s, as_json=as_json,
                           err=err, started=time.monotonic(), send=send)  # fmt: skip


def _write_ids(batch: Any, ids_file: str) -> None:
    lines = [batch.task_ids.get(index, "") for index in range(batch.count)]
    Path(ids_file).write_text("".join(f"{line}\n" for line in lines))


def _report_sent(batch: Any, ids_file: str | None, err: Any) -> int:
    if ids_file is not None:
        _write_ids(batch, ids_file)
    else:
        for index in range(batch.count):
            if index in batch.task_ids:
                print(batch.task_ids[index])
    for outcome in sorted(batch.outcomes.values(), key=lambda o: o.index):
        err.print(f"[red]line {outcome.index + 1} not sent:[/red] {outcome.error}")
    sent = len(batch.task_ids)
    where = f"; task ids in {ids_file} (llmix-workers results --ids {ids_file})" if ids_file else ""
    err.print(f"{sent:,} of {batch.count:,} jobs sent{where}")
    return 1 if batch.outcomes else 0


@click.command("enqueue", context_settings=CONTEXT)
@click.argument("prompt", required=False)
@click.option("--jsonl", "jsonl", type=click.File("rb"), default=None,
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
@click.option("--cache-first/--no-cache-first", default=None,
              help="With --wait: answer cached requests from L2 here and send only the misses "
                   "(default: producer.cache_first, on).")  # fmt: skip
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="With --wait: write results here as JSONL, a line per input line.")  # fmt: skip
@click.option("--ids", "ids_file", type=click.Path(dir_okay=False), default=None,
              help="Write task ids here, a line per input line (results/revoke).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True,
              help="With --wait and --output: print the summary as JSON on stdout.")  # fmt: skip
@click.option("--timeout", "timeout_s", type=float, default=600.0, show_default=True,
              help="Seconds to wait for the results.")  # fmt: skip
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
    cache_first: bool | None,
    output: str | None,
    ids_file: str | None,
    as_json: bool,
    timeout_s: float,
) -> None:
    """Enqueue one PROMPT, or every request of --jsonl; with --wait, collect the results.

    Without --wait the task ids are printed (or written with --ids FILE) and
    `llmix-workers results --ids FILE` collects them later.
    """
    if (prompt is None) == (jsonl is None):
        raise click.UsageError("give either a PROMPT or --jsonl FILE (not both)")
    if output is not None and not wait:
        raise click.UsageError("--output needs --wait (or use --ids FILE, then results --ids FILE)")
    if as_json and (not wait or output is None):
        raise click.UsageError("--json needs --wait and --output FILE (stdout carries the JSON)")
    if prompt is not None and not prompt.strip():
        raise ConfigError("the prompt is empty")
    requests: list[Item]
    if jsonl is not None:
        requests = read_jsonl(jsonl)
    else:
        requests = [prompt_request(
            prompt or "", provider=provider, model=model, system=system, temperature=temperature,
            max_output_tokens=max_output_tokens, base_url=base_url, cache=cache_mode, ttl_s=ttl_s,
        )]  # fmt: skip
    settings = settings_from(ctx)
    if cache_first is not None:
        section = settings.producer.model_copy(update={"cache_first": cache_first})
        settings = settings.model_copy(update={"producer": section})
    code = run_enqueue(settings, requests, wait=wait, output=output,
                       timeout_s=timeout_s, ids_file=ids_file, as_json=as_json)  # fmt: skip
    sys.exit(code)
