"""Typed settings: defaults < ``settings.toml`` < environment < explicit arguments.

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
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from llmix_workers.cache.keys import DEFAULT_KEY_PREFIX
from llmix_workers.cache.strategy import CachingStrategy
from llmix_workers.errors import ConfigError
from llmix_workers.topology.url import SCHEMES, parse_redis_url

ENV_PREFIX = "LLMIX_"
SETTINGS_FILE_ENV = "LLMIX_SETTINGS"
_settings_file: ContextVar[Path | None] = ContextVar("llmix_settings_file", default=None)


REDIS_SCHEMES = frozenset(SCHEMES)
BROKER_SCHEMES = REDIS_SCHEMES | {"amqp", "amqps", "pyamqp"}


def _url_with_scheme(value: SecretStr | None, schemes: frozenset[str]) -> SecretStr | None:
    """An empty URL is no URL; any other must use one of ``schemes`` and name a host (only the
    scheme is shown in the error: the rest may hold a password)."""
    if value is None or not value.get_secret_value():
        return None
    text = value.get_secret_value()
    scheme, sep, rest = text.partition("://")
    allowed = ", ".join(f"{name}://" for name in sorted(schemes))
    if not sep:
        raise ValueError(f"must be a URL starting with one of {allowed} (got no scheme)")
    if scheme not in schemes:
        raise ValueError(f"must start with one of {allowed} (got {scheme[:16]}://)")
    host = rest.rpartition("@")[2].split("/", 1)[0].split("?", 1)[0]
    if scheme != "unix" and not host:
        raise ValueError(f"names no host (got {scheme}:// with nothing after it)")
    if scheme in REDIS_SCHEMES:
        try:
            parse_redis_url(text)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    return value


#: A Redis URL setting: a secret (it may hold a password), ``redis://``, ``rediss://``,
#: ``unix://``, ``redis+cluster://``, ``redis+sentinel://`` (see :mod:`llmix_workers.topology`).
RedisUrl = Annotated[
    SecretStr | None, AfterValidator(lambda value: _url_with_scheme(value, REDIS_SCHEMES))
]
#: A broker or result-backend URL: a Redis URL, or AMQP (RabbitMQ). A Redis Cluster URL passes
#: here and is refused by ``create_app`` (Celery has no cluster transport).
BrokerUrl = Annotated[
    SecretStr | None, AfterValidator(lambda value: _url_with_scheme(value, BROKER_SCHEMES))
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RedisSettings(_Section):
    """Connection to the Redis that holds L2 (and, by default, the broker and fleet state)."""

    url: RedisUrl = None
    socket_timeout_s: float = Field(0.25, gt=0, le=60)
    connect_timeout_s: float = Field(0.25, gt=0, le=60)
    max_connections: int = Field(64, ge=1, le=10_000)
    protocol: Literal[2, 3] = 2


class CacheSettings(_Section):
    """The two-tier response cache (DESIGN.md §2)."""

    strategy: CachingStrategy = "redis-or-memory"
    key_prefix: str = Field(DEFAULT_KEY_PREFIX, min_length=1, max_length=256)
    ttl_s: int = Field(3600, ge=1, le=365 * 24 * 3600)
    l1_max_entries: int = Field(1000, ge=1, le=10_000_000)
    l2_cooloff_s: float = Field(5.0, ge=0, le=3600)
    l2_max_entry_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    clear_batch_size: int = Field(1000, ge=1, le=100_000)


class FleetSettings(_Section):
    """Fleet-wide coordination through Redis (DESIGN.md §3)."""

    redis_url: RedisUrl = None
    sync_interval_s: float = Field(1.0, gt=0, le=3600)
    heartbeat_ttl_s: float = Field(5.0, gt=0, le=3600)
    lock_ttl_s: float = Field(10.0, gt=0, le=3600)
    lock_wait_s: float = Field(60.0, ge=0, le=3600)
    lock_poll_s: float = Field(0.02, gt=0, le=10)
    clear_timeout_s: float = Field(5.0, gt=0, le=3600)

    @field_validator("heartbeat_ttl_s")
    @classmethod
    def _outlives_a_sync(cls, value: float, info: ValidationInfo) -> float:
        interval = info.data.get("sync_interval_s")
        if interval is not None and value <= interval:
            raise ValueError(f"must exceed sync_interval_s ({interval}), or live workers look dead")
        return value


class LLMSettings(_Section):
    """Provider access and the resilience rules of DESIGN.md §2.

    Keys fall back to the providers' usual environment variables; a comma-separated value is a
    key pool; a key a provider rejects (401/403) is set aside for ``key_cooloff_s`` seconds, for
    the endpoint that rejected it only. ``custom_providers`` maps a provider name to
    ``"package.module:Class"``.
    """

    timeout_s: float = Field(60.0, gt=0, le=3600)
    connect_timeout_s: float = Field(5.0, gt=0, le=600)
    max_connections: int = Field(100, ge=1, le=10_000)
    api_keys: dict[str, SecretStr] = Field(default_factory=dict)
    base_urls: dict[str, str] = Field(default_factory=dict)
    custom_providers: dict[str, str] = Field(default_factory=dict)
    key_cooloff_s: float = Field(300.0, ge=0, le=86_400)
    max_attempts: int = Field(4, ge=1, le=20)
    max_inline_wait_s: float = Field(5.0, ge=0, le=3600)
    retry_after_cap_s: float = Field(60.0, ge=0, le=3600)
    breaker_failure_threshold: int = Field(3, ge=1, le=1000)
    breaker_cooldown_s: float = Field(30.0, gt=0, le=3600)
    concurrency_initial: int = Field(32, ge=1, le=10_000)
    concurrency_min: int = Field(4, ge=1, le=10_000)
    anthropic_version: str = Field("2023-06-01", min_length=1)
    anthropic_max_tokens: int = Field(4096, ge=1)
    anthropic_thinking_budget_tokens: int = Field(2048, ge=1024)

    @field_validator("custom_providers")
    @classmethod
    def _dotted_paths(cls, value: dict[str, str]) -> dict[str, str]:
        for name, path in value.items():
            module, _, attr = path.partition(":")
            if not module or not attr:
                raise ValueError(f'{name}: expected "package.module:Class" (got "{path}")')
        return value

    @field_validator("concurrency_min")
    @classmethod
    def _min_below_initial(cls, value: int, info: ValidationInfo) -> int:
        initial = info.data.get("concurrency_initial")
        if initial is not None and value > initial:
            raise ValueError(f"must not exceed concurrency_initial ({initial})")
        return value


class WorkerSettings(_Section):
    """The Celery app: broker, results, pool, limits and delivery (one place: ``create_app``)."""

    broker_url: BrokerUrl = None
    result_backend: BrokerUrl = None
    queue: str = Field("llmix", min_length=1, max_length=200)
    pool: Literal["threads", "prefork", "solo"] = "threads"
    concurrency: int = Field(16, ge=1, le=1000)
    prefetch_multiplier: int = Field(4, ge=1, le=1000)
    task_time_limit_s: float = Field(300.0, gt=0, le=86_400)
    task_soft_time_limit_s: float = Field(270.0, gt=0, le=86_400)
    visibility_timeout_s: int = Field(600, ge=1, le=7 * 86_400)
    restore_interval_s: float = Field(10.0, gt=0, le=3600)
    result_expires_s: int = Field(86_400, ge=1)
    max_request_bytes: int = Field(1_048_576, ge=1024)
    max_requeues: int = Field(5, ge=0, le=100)
    task_events: bool = False


class ModelPrice(_Section):
    """What a model costs, USD per million tokens (for the cost-saved metric)."""

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)


class TelemetrySettings(_Section):
    """Prometheus metrics, health endpoints and OpenTelemetry traces of a worker node."""

    metrics_port: int = Field(0, ge=0, le=65535)
    metrics_host: str = Field("0.0.0.0", min_length=1)
    multiproc_dir: str = ""
    max_model_labels: int = Field(20, ge=1, le=1000)
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    liveness_timeout_s: float = Field(120.0, gt=0, le=86_400)
    readiness_timeout_s: float = Field(30.0, gt=0, le=86_400)
    otel_enabled: bool = False
    otel_endpoint: str = ""
    otel_service_name: str = Field("llmix-workers", min_length=1)
    otel_sampling_ratio: float = Field(1.0, ge=0, le=1)
    otel_record_content: bool = False


class ProducerSettings(_Section):
    """The enqueueing side (``enqueue``, ``CompletionProducer``)."""

    cache_first: bool = True


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
