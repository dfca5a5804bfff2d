"""The ``llmix-workers`` click group and what every command shares: settings, one-line errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from llmix_workers.errors import ConfigError, LlmixError
from llmix_workers.settings import SETTINGS_FILE_ENV, Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])
#: Exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def friendly_errors(command: F) -> F:
    """Turn a user-facing failure into one red line on stderr and exit status 2, no traceback:
    an :class:`LlmixError`, and a Redis or broker connection lost while the command ran.
    Ctrl-C not handled by the command itself exits 130 with one line."""
    import redis
    from kombu.exceptions import OperationalError

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LlmixError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            click.secho("interrupted", fg="yellow", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (redis.RedisError, OperationalError, ConnectionError) as exc:
            from llmix_workers.cli.urls import scrub

            ctx = click.get_current_context(silent=True)
            urls = _known_urls(ctx)
            _fail(f"lost the connection to Redis or the broker: {scrub(str(exc), *urls)}")

    return wrapper  # type: ignore[return-value]


def _fail(message: str) -> None:
    click.secho(f"error: {' '.join(message.split())}", fg="red", err=True)
    sys.exit(2)


def _known_urls(ctx: click.Context | None) -> list[str | None]:
    if ctx is None:
        return []
    try:
        settings = settings_from(ctx)
        return [settings.redis_url, settings.fleet_redis_url, settings.broker_url,
                settings.result_backend_url]  # fmt: skip
    except LlmixError:
        return []


@click.group(context_settings=CONTEXT)
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
    """Load settings from the file given to the group, else ``$LLMIX_SETTINGS`` (which must
    exist when set), else ``./settings.toml`` if present.

    Raises:
        ConfigError: a named settings file does not exist, or a value is not allowed.
    """
    explicit = ctx.find_root().obj
    from_env = os.environ.get(SETTINGS_FILE_ENV)
    if explicit is None and from_env:
        if not Path(from_env).is_file():
            raise ConfigError(f"settings file {from_env} (from {SETTINGS_FILE_ENV}) does not exist")
        explicit = from_env
    return load_settings(explicit)
