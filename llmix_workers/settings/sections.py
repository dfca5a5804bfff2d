"""The sections of Settings, each with its defaults and bounds, and the URL setting types."""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from llmix_workers.cache.keys import DEFAULT_KEY_PREFIX
from llmix_workers.cache.strategy import CachingStrategy
from llmix_workers.errors import ConfigError
from llmix_workers.topology.url import SCHEMES, parse_redis_url

REDIS_SCHEMES = frozenset(SCHEMES)
#: The most threads (or child processes) a worker node runs.
MAX_CONCURRENCY: Final = 1024
#: Redis connections a worker process keeps beside one per task thread: a clear's SCAN/UNLINK
#: and the commands of its other threads (see :mod:`llmix_workers.settings.sizing`).
REDIS_SPARE_CONNECTIONS: Final = 8
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
    #: L2 connections per process; ``None`` follows the worker: one per task thread plus
    #: :data:`REDIS_SPARE_CONNECTIONS` (:func:`~llmix_workers.settings.sizing.sized_redis`).
    max_connections: int | None = Field(None, ge=1, le=100_000)
    protocol: Literal[2, 3] = 2


class CacheSettings(_Section):
    """The two-tier response cache (docs/explanations/design.md, "The cache contract")."""

    strategy: CachingStrategy = "redis-or-memory"
    key_prefix: str = Field(DEFAULT_KEY_PREFIX, min_length=1, max_length=256)
    ttl_s: int = Field(3600, ge=1, le=365 * 24 * 3600)
    l1_max_entries: int = Field(1000, ge=1, le=10_000_000)
    l2_cooloff_s: float = Field(5.0, ge=0, le=3600)
    l2_max_entry_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    clear_batch_size: int = Field(1000, ge=1, le=100_000)


#: How much faster one clock may run than another (Redis' against a worker's monotonic clock)
#: that the membership TTL must cover beyond the lease: generous, NTP slews at most 0.05 %.
MAX_CLOCK_DRIFT = 0.1


class FleetSettings(_Section):
    """Fleet-wide coordination through Redis (docs/guides/consistency.md).

    A worker process serves what it caches only while its last confirmed check of the fleet
    state started less than ``lease_s`` ago; a clear waits for a silent process until its
    membership key (TTL ``member_ttl_s``, counted by Redis) is gone.
    """

    redis_url: RedisUrl = None
    sync_interval_s: float = Field(1.0, gt=0, le=3600)
    lease_s: float = Field(3.0, gt=0, le=3600)
    member_ttl_s: float = Field(5.0, gt=0, le=7200)
    lock_ttl_s: float = Field(10.0, gt=0, le=3600)
    lock_wait_s: float = Field(60.0, ge=0, le=3600)
    lock_poll_s: float = Field(0.02, gt=0, le=10)
    clear_timeout_s: float = Field(10.0, gt=0, le=3600)

    @field_validator("lease_s")
    @classmethod
    def _outlives_a_check(cls, value: float, info: ValidationInfo) -> float:
        interval = info.data.get("sync_interval_s")
        if interval is not None and value <= interval:
            raise ValueError(
                f"must exceed sync_interval_s ({interval}), or a process loses its lease "
                "between two checks"
            )
        return value

    @field_validator("member_ttl_s")
    @classmethod
    def _outlives_a_lease(cls, value: float, info: ValidationInfo) -> float:
        lease = info.data.get("lease_s")
        floor = lease * (1 + MAX_CLOCK_DRIFT) if lease is not None else 0.0
        if value < floor:
            raise ValueError(
                f"must be at least lease_s × {1 + MAX_CLOCK_DRIFT:g} ({floor:g}), so a "
                "membership that Redis let expire means the lease has run out"
            )
        return value


#: A budget's name: a provider (``openai``), or a provider and one of its models
#: (``openai/gpt-4o-mini``).
BUDGET_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_.-]*(/[^\s/][^\s]*)?$")


class Budget(_Section):
    """One fleet-wide budget: requests and tokens (input + output) per minute, at least one."""

    rpm: int | None = Field(None, ge=1, le=100_000_000)
    tpm: int | None = Field(None, ge=1, le=100_000_000_000)

    @model_validator(mode="after")
    def _some_limit(self) -> Budget:
        if self.rpm is None and self.tpm is None:
            raise ValueError("sets neither rpm nor tpm: give one or both")
        return self


class LLMSettings(_Section):
    """Provider access and the LLMix resilience rules (docs/explanations/design.md).

    Keys fall back to the providers' usual environment variables; a comma-separated value is a
    key pool; a key a provider rejects (401/403) is set aside for ``key_cooloff_s`` seconds, for
    the endpoint that rejected it only. ``custom_providers`` maps a provider name to
    ``"package.module:Class"``.
    """

    timeout_s: float = Field(60.0, gt=0, le=3600)
    connect_timeout_s: float = Field(5.0, gt=0, le=600)
    #: Keep-alive connections per provider host and process; ``None`` follows the worker: one
    #: per task thread (:func:`~llmix_workers.settings.sizing.sized_llm`).
    max_connections: int | None = Field(None, ge=1, le=100_000)
    api_keys: dict[str, SecretStr] = Field(default_factory=dict)
    base_urls: dict[str, str] = Field(default_factory=dict)
    custom_providers: dict[str, str] = Field(default_factory=dict)
    key_cooloff_s: float = Field(300.0, ge=0, le=86_400)
    max_attempts: int = Field(4, ge=1, le=20)
    max_inline_wait_s: float = Field(5.0, ge=0, le=3600)
    retry_after_cap_s: float = Field(60.0, ge=0, le=3600)
    breaker_failure_threshold: int = Field(3, ge=1, le=1000)
    breaker_cooldown_s: float = Field(30.0, gt=0, le=3600)
    #: The AIMD window's start and ceiling per provider and process; ``None`` follows the
    #: worker: one per task thread, at least ``concurrency_min``.
    concurrency_initial: int | None = Field(None, ge=1, le=100_000)
    concurrency_min: int = Field(4, ge=1, le=10_000)
    anthropic_version: str = Field("2023-06-01", min_length=1)
    anthropic_max_tokens: int = Field(4096, ge=1)
    anthropic_thinking_budget_tokens: int = Field(2048, ge=1024)
    #: Fleet-wide budgets by ``provider`` or ``provider/model`` (docs/guides/budgets.md).
    budgets: dict[str, Budget] = Field(default_factory=dict)
    budget_output_tokens: int = Field(256, ge=1, le=10_000_000)
    budget_burst_s: float = Field(0.5, gt=0, le=60)
    budget_recovery_s: float = Field(60.0, gt=0, le=3600)

    @field_validator("budgets")
    @classmethod
    def _budget_names(cls, value: dict[str, Budget]) -> dict[str, Budget]:
        for name in value:
            if not BUDGET_NAME.match(name):
                raise ValueError(f'{name!r}: expected "provider" or "provider/model"')
        return value

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
        if initial is not None and value > initial:  # unset, it follows: never below the floor
            raise ValueError(f"must not exceed concurrency_initial ({initial})")
        return value


class WorkerSettings(_Section):
    """The Celery app: broker, results, pool, limits and delivery (one place: ``create_app``)."""

    broker_url: BrokerUrl = None
    result_backend: BrokerUrl = None
    queue: str = Field("llmix", min_length=1, max_length=200)
    pool: Literal["threads", "prefork", "solo"] = "threads"
    concurrency: int = Field(16, ge=1, le=MAX_CONCURRENCY)
    prefetch_multiplier: int = Field(4, ge=1, le=1000)
    task_time_limit_s: float = Field(300.0, gt=0, le=86_400)
    task_soft_time_limit_s: float = Field(270.0, gt=0, le=86_400)
    visibility_timeout_s: int = Field(600, ge=1, le=7 * 86_400)
    restore_interval_s: float = Field(10.0, gt=0, le=3600)
    result_expires_s: int = Field(86_400, ge=1)
    max_request_bytes: int = Field(1_048_576, ge=1024)
    max_requeues: int = Field(5, ge=0, le=100)
    max_circuit_wait_s: float = Field(300.0, ge=0, le=86_400)
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
    #: ``otlp`` (OTLP/HTTP), ``none`` (spans made and batched, then discarded: the meaning of
    #: ``OTEL_TRACES_EXPORTER=none``), ``console`` (printed to stdout, for a quick look).
    otel_exporter: Literal["otlp", "none", "console"] = "otlp"
    otel_service_name: str = Field("llmix-workers", min_length=1)
    otel_sampling_ratio: float = Field(1.0, ge=0, le=1)
    otel_record_content: bool = False


class ProducerSettings(_Section):
    """The enqueueing side (``enqueue``, ``CompletionProducer``)."""

    cache_first: bool = True
