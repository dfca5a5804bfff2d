"""The ``llmix-workers`` click group and what every command shares: settings, one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
import orjson

from llmix_workers.errors import LlmixError
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
