"""The module ``celery -A llmix_workers.celery_app`` points at: the app, built from settings.

Importing it loads settings (``settings.toml``, ``LLMIX_*``, ``REDIS_URL``) and builds the app, so
Celery's own tools work as Celery users expect::

    celery -A llmix_workers.celery_app worker --pool threads -c 16
    celery -A llmix_workers.celery_app inspect active
    celery -A llmix_workers.celery_app control --timeout 15 llmix_cache_clear
    celery -A llmix_workers.celery_app events        # needs worker.task_events = true

Flower and celery-exporter take the same ``-A`` argument. This is the one module of the package
that does work at import; nothing else imports it.

Raises (at import):
    ConfigError: the settings are invalid or name no broker (one line saying which setting).
"""

from __future__ import annotations

from llmix_workers.settings import load_settings
from llmix_workers.worker.app import LlmixCelery, create_app

app: LlmixCelery = create_app(load_settings())
celery = app

__all__ = ["app", "celery"]
