"""``llmix-workers stub-provider``: the stub LLM provider as a command."""

from __future__ import annotations

import sys

import click

from llmix_workers.cli.group import CONTEXT, friendly_errors
from llmix_workers.errors import ConfigError


@click.command("stub-provider", context_settings=CONTEXT)
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
@click.option(
    "--rpm",
    type=click.IntRange(min=1),
    default=None,
    help="Requests per minute across all callers; beyond it, 429 with retry-after.",
)
@click.option(
    "--tpm",
    type=click.IntRange(min=1),
    default=None,
    help="Tokens (input + output) per minute across all callers; beyond it, 429.",
)
@friendly_errors
def stub_provider(
    host: str,
    port: int,
    latency_ms: int,
    fault_rate: float,
    rate_fault: str,
    seed: int,
    rpm: int | None,
    tpm: int | None,
) -> None:
    """Serve a stub LLM provider (OpenAI and Anthropic APIs) until interrupted.

    Point a provider's base URL at it (http://HOST:PORT). Prompt markers such as [[stub:429]]
    play faults; GET /_stub/calls counts the calls received. --rpm and --tpm limit the rate
    like a provider account does (a bucket of one second's worth, OpenAI's x-ratelimit-*
    headers on every answer).
    """
    from llmix_workers.testing.stub import Fault, StubProvider

    try:
        fault = Fault.parse(rate_fault)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rate-fault") from None
    try:
        stub = StubProvider(
            host, port, latency_ms=latency_ms, fault_rate=fault_rate, rate_fault=fault,
            seed=seed, rpm=rpm, tpm=tpm,
        )  # fmt: skip
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    click.echo(f"stub provider listening on {stub.base_url} (Ctrl-C to stop)")
    sys.stdout.flush()
    try:
        stub.serve_forever()
    except KeyboardInterrupt:
        pass
