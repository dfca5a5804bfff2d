"""``llmix-workers settings``: the settings in effect, with every secret masked."""

from __future__ import annotations

import os
from typing import Any

import click
import orjson

from llmix_workers.cli.group import CONTEXT, friendly_errors, settings_from
from llmix_workers.cli.urls import masked_key, masked_url
from llmix_workers.errors import ConfigError
from llmix_workers.settings import Settings
from llmix_workers.settings.sizing import sized_llm, sized_redis


@click.command("settings", context_settings=CONTEXT)
@click.pass_context
@friendly_errors
def show_settings(ctx: click.Context) -> None:
    """Print the settings in effect as JSON: URLs as used (passwords masked), found API keys
    (masked, with where they came from), pool sizes as worked out from the concurrency."""
    click.echo(orjson.dumps(effective(settings_from(ctx)), option=orjson.OPT_INDENT_2).decode())


def effective(settings: Settings, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings as JSON, URLs resolved to the ones in effect, secrets masked, unset pool
    sizes as they follow the concurrency."""
    env = dict(os.environ) if env is None else env
    sized = {
        "redis": sized_redis(settings.redis, settings.worker),
        "llm": sized_llm(settings.llm, settings.worker),
    }
    settings = settings.model_copy(update=sized)
    dumped: dict[str, Any] = settings.model_dump(mode="json")
    dumped["redis"]["url"] = _shown(settings.redis_url)
    dumped["fleet"]["redis_url"] = _shown(settings.fleet_redis_url)
    dumped["worker"]["broker_url"] = _shown(_or_none(lambda: settings.broker_url))
    dumped["worker"]["result_backend"] = _shown(_or_none(lambda: settings.result_backend_url))
    dumped["llm"]["api_keys"] = found_keys(settings, env)
    return dumped


def found_keys(settings: Settings, env: dict[str, str]) -> dict[str, str]:
    """Provider -> masked key and its source, for every provider that has one."""
    from llmix_workers.llm.registry import ProviderRegistry

    registry = ProviderRegistry.from_settings(settings.llm.custom_providers)
    found: dict[str, str] = {}
    known = set(registry.names())
    for name in sorted(known | set(settings.llm.api_keys)):
        configured = settings.llm.api_keys.get(name)
        key_env = registry.get(name).key_env if name in known else ""
        if configured is not None and configured.get_secret_value():
            value, source = configured.get_secret_value(), f"llm.api_keys.{name}"
        elif key_env and env.get(key_env, "").strip(", "):
            value, source = env[key_env], key_env
        else:
            continue
        keys = [key for key in value.split(",") if key.strip()]
        shown = ", ".join(masked_key(key) for key in keys)
        found[name] = f"{shown} (from {source})"
    return found


def _shown(url: str | None) -> str | None:
    return masked_url(url) if url else None


def _or_none(read: Any) -> str | None:
    try:
        return str(read())
    except ConfigError:
        return None
