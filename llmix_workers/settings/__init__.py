"""Typed settings, loaded once at the edge: :func:`load_settings` returns a :class:`Settings`.

``sections`` holds each section with its defaults; ``loading`` the sources and their order.
"""

from llmix_workers.settings.loading import (
    ENV_PREFIX,
    SETTINGS_FILE_ENV,
    Settings,
    load_settings,
    settings_file_path,
)
from llmix_workers.settings.sections import (
    BROKER_SCHEMES,
    REDIS_SCHEMES,
    BrokerUrl,
    CacheSettings,
    FleetSettings,
    LLMSettings,
    ModelPrice,
    ProducerSettings,
    RedisSettings,
    RedisUrl,
    TelemetrySettings,
    WorkerSettings,
)

__all__ = [
    "BROKER_SCHEMES",
    "ENV_PREFIX",
    "REDIS_SCHEMES",
    "SETTINGS_FILE_ENV",
    "BrokerUrl",
    "CacheSettings",
    "FleetSettings",
    "LLMSettings",
    "ModelPrice",
    "ProducerSettings",
    "RedisSettings",
    "RedisUrl",
    "Settings",
    "TelemetrySettings",
    "WorkerSettings",
    "load_settings",
    "settings_file_path",
]
