"""Settings and where they come from: defaults < ``settings.toml`` < environment < arguments.

The file is ``$LLMIX_SETTINGS`` when set, else ``./settings.toml`` (absent is fine). Environment
variables use the ``LLMIX_`` prefix and ``__`` for nesting (``LLMIX_CACHE__TTL_S=60``); the plain
``REDIS_URL`` of the LLMix bindings is honoured below ``LLMIX_REDIS__URL``. Secrets are
``SecretStr`` and print as ``**********``. Load once at the edge with :func:`load_settings`.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from llmix_workers.errors import ConfigError
from llmix_workers.settings.sections import (
    CacheSettings,
    FleetSettings,
    LLMSettings,
    ProducerSettings,
    RedisSettings,
    TelemetrySettings,
    WorkerSettings,
)

ENV_PREFIX = "LLMIX_"
SETTINGS_FILE_ENV = "LLMIX_SETTINGS"
_settings_file: ContextVar[Path | None] = ContextVar("llmix_settings_file", default=None)


class Settings(BaseSettings):
    """Everything llmix_workers can be told, one typed object handed down from the edge."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    redis: RedisSettings = RedisSettings()
    cache: CacheSettings = CacheSettings()
    fleet: FleetSettings = FleetSettings()
    llm: LLMSettings = LLMSettings()
    worker: WorkerSettings = WorkerSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    producer: ProducerSettings = ProducerSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _RedisUrlSource(settings_cls),
            TomlConfigSettingsSource(settings_cls, toml_file=settings_file_path()),
        )

    @property
    def redis_url(self) -> str | None:
        """The Redis URL in clear text, for connecting only: never log or print it."""
        return self.redis.url.get_secret_value() if self.redis.url else None

    @property
    def fleet_redis_url(self) -> str | None:
        """Where fleet state lives: ``fleet.redis_url``, else the cache's Redis (clear text)."""
        url = self.fleet.redis_url
        return url.get_secret_value() if url is not None else self.redis_url

    @property
    def broker_url(self) -> str:
        """``worker.broker_url``, else the Redis URL (clear text: never log it).

        Raises:
            ConfigError: neither is set.
        """
        return _url_or_redis(self.worker.broker_url, self.redis_url, "worker.broker_url")

    @property
    def result_backend_url(self) -> str:
        """``worker.result_backend``, else the Redis URL (clear text: never log it)."""
        return _url_or_redis(self.worker.result_backend, self.redis_url, "worker.result_backend")


def _url_or_redis(value: SecretStr | None, redis_url: str | None, name: str) -> str:
    if value is not None:
        return value.get_secret_value()
    if redis_url:
        return redis_url
    raise ConfigError(f"{name}: not set, and no Redis URL to fall back on (set REDIS_URL)")


class _RedisUrlSource(PydanticBaseSettingsSource):
    """``REDIS_URL`` as the LLMix bindings read it, below ``LLMIX_REDIS__URL``."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        url = os.environ.get("REDIS_URL")
        return {"redis": {"url": url}} if url else {}


def settings_file_path() -> Path:
    """The settings file in use: the one given to :func:`load_settings`, else the env, else cwd."""
    explicit = _settings_file.get()
    if explicit is not None:
        return explicit
    return Path(os.environ.get(SETTINGS_FILE_ENV) or "settings.toml")


def load_settings(settings_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings from every source; explicit ``overrides`` win.

    Raises:
        ConfigError: a value is not allowed; the message names the setting, where the value came
            from (argument, environment variable, settings file or default) and what is allowed.
    """
    path = (Path(settings_file) if settings_file is not None else settings_file_path()).absolute()
    if settings_file is not None and not path.is_file():
        raise ConfigError(f"settings file {path} does not exist")
    token = _settings_file.set(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, overrides)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from None
    finally:
        _settings_file.reset(token)


def _describe(exc: ValidationError, path: Path, overrides: dict[str, Any]) -> str:
    lines = [f"invalid settings ({exc.error_count()} problem(s)):"]
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(str(part) for part in error["loc"])
        name = ".".join(loc)
        lines.append(f"  {name}: {error['msg']} (from {_source_of(loc, path, overrides)})")
    return "\n".join(lines)


def _source_of(loc: tuple[str, ...], path: Path, overrides: dict[str, Any]) -> str:
    if _lookup(overrides, loc):
        return f"argument {'.'.join(loc)}"
    env_name = ENV_PREFIX + "__".join(loc).upper()
    env = {key.upper(): key for key in os.environ}
    for depth in range(len(loc), 0, -1):
        candidate = ENV_PREFIX + "__".join(loc[:depth]).upper()
        if candidate in env:
            return f"environment variable {env[candidate]}"
    if loc[:2] == ("redis", "url") and os.environ.get("REDIS_URL"):
        return "environment variable REDIS_URL"
    if path.is_file():
        with path.open("rb") as handle:
            if _lookup(tomllib.load(handle), loc):
                return f"settings file {path}"
    return f"default (or {env_name})"


def _lookup(tree: dict[str, Any], loc: tuple[str, ...]) -> bool:
    node: Any = tree
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
