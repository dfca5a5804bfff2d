"""``llmix-workers``: the command line. User mistakes print one line and exit non-zero."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
import orjson

from llmix_workers.errors import ConfigError, LlmixError
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
