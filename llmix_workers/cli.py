"""``llmix-workers``: the command line. User mistakes print one line and exit non-zero."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
import orjson

from llmix_workers.errors import ConfigError, LlmixError
from llmix_workers.llm.job import CACHE_MODES
from llmix_workers.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(command: F) -> F:
    """Turn an LlmixError into one red line on stderr and exit status 2, no traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LlmixError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


@click.group()
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Settings file (default: $LLMIX_SETTINGS, else ./settings.toml).",
)
@click.pass_context
def main(ctx: click.Context, settings_file: str | None) -> None:
    """Run LLM completion jobs on a Celery fleet through the LLMix two-tier cache."""
    ctx.obj = settings_file


def settings_from(ctx: click.Context) -> Settings:
    """Load settings once per command, from the file given to the group if any."""
    return load_settings(ctx.find_root().obj)


@main.command("settings")
@click.pass_context
@friendly_errors
def show_settings(ctx: click.Context) -> None:
    """Print the effective settings as JSON (secrets masked)."""
    settings = settings_from(ctx)
    dumped = settings.model_dump(mode="json")
    click.echo(orjson.dumps(dumped, option=orjson.OPT_INDENT_2).decode())


@main.command("stub-provider")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8099, show_default=True, help="0 picks one."
)
@click.option(
    "--latency-ms",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Delay before every answer.",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of requests answered with --rate-fault.",
)
@click.option(
    "--rate-fault",
    default="503",
    show_default=True,
    help="Fault at --fault-rate: 503, 429=SECONDS, slow=MS, reset, truncated or malformed.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fault draw.")
@friendly_errors
def stub_provider(
    host: str, port: int, latency_ms: int, fault_rate: float, rate_fault: str, seed: int
) -> None:
    """Serve a stub LLM provider (OpenAI and Anthropic APIs) until interrupted.

    Point a provider's base URL at it (http://HOST:PORT). Prompt markers such as [[stub:429]]
    play faults; GET /_stub/calls counts the calls received.
    """
    from llmix_workers.llm.stub import Fault, StubProvider

    try:
        fault = Fault.parse(rate_fault)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rate-fault") from None
    try:
        stub = StubProvider(
            host, port, latency_ms=latency_ms, fault_rate=fault_rate, rate_fault=fault, seed=seed
        )
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    click.echo(f"stub provider listening on {stub.base_url} (Ctrl-C to stop)")
    sys.stdout.flush()
    try:
        stub.serve_forever()
    except KeyboardInterrupt:
        pass


@main.command("worker")
@click.option("--pool", type=click.Choice(["threads", "prefork", "solo"]), default=None,
              help="Worker pool (default: worker.pool, threads).")  # fmt: skip
@click.option("-c", "--concurrency", type=click.IntRange(1, 1000), default=None,
              help="Threads or child processes (default: worker.concurrency).")  # fmt: skip
@click.option("-n", "--hostname", default=None, help="Node name, e.g. w1@%h.")
@click.option(
    "-Q", "--queues", default=None, help="Comma-separated queues (default: worker.queue)."
)
@click.option("-l", "--loglevel", default="INFO", show_default=True)
@click.pass_context
@friendly_errors
def worker(
    ctx: click.Context,
    pool: str | None,
    concurrency: int | None,
    hostname: str | None,
    queues: str | None,
    loglevel: str,
) -> None:
    """Start a Celery worker that runs completion jobs through the cache."""
    from llmix_workers.worker.app import create_app

    settings = settings_from(ctx)
    pool = pool or settings.worker.pool
    concurrency = concurrency or settings.worker.concurrency
    # Celery lets the app's configuration win over --pool, so both are set here.
    app = create_app(settings, worker_pool=pool, worker_concurrency=concurrency)
    argv = [
        "worker",
        f"--loglevel={loglevel}",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        f"--queues={queues or settings.worker.queue}",
        "--without-gossip",
        "--without-mingle",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    app.worker_main(argv)


@main.command("enqueue")
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
    from llmix_workers.enqueue import prompt_request, read_jsonl, run_enqueue

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


@main.group("cache")
def cache_group() -> None:
    """Fleet-wide cache operations: clear, stats."""


@cache_group.command("clear")
@click.option("--timeout", "timeout_s", type=float, default=None,
              help="Seconds to wait for acknowledgements (fleet.clear_timeout_s).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@friendly_errors
def cache_clear(ctx: click.Context, timeout_s: float | None, as_json: bool) -> None:
    """Clear the shared L2 and every worker process's L1; exit 0 only when complete."""
    from llmix_workers.fleet.control import FleetControl
    from llmix_workers.fleet.report import print_clear

    report = FleetControl(settings_from(ctx)).clear(timeout_s=timeout_s)
    if as_json:
        click.echo(orjson.dumps(report.as_json()).decode())
    else:
        print_clear(report)
    sys.exit(0 if report.complete else 1)


@cache_group.command("stats")
@click.option("--timeout", "timeout_s", type=float, default=None,
              help="Seconds to wait for answers (default: fleet.clear_timeout_s).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the stats as JSON.")
@click.pass_context
@friendly_errors
def cache_stats(ctx: click.Context, timeout_s: float | None, as_json: bool) -> None:
    """One row per worker process (L1, hits by tier, L2 health, generation) and the L2 size."""
    from llmix_workers.fleet.control import FleetControl
    from llmix_workers.fleet.report import print_stats

    replies, l2_keys = FleetControl(settings_from(ctx)).stats(timeout_s=timeout_s)
    if as_json:
        body = {"processes": replies.answers, "silent": replies.silent, "l2Keys": l2_keys}
        click.echo(orjson.dumps(body).decode())
    else:
        print_stats(replies, l2_keys)
    sys.exit(0 if not replies.silent else 1)
