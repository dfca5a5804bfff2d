"""The producer makes its app current only while it publishes, through Celery's public API: the
application's own current app is current again afterwards (the OpenTelemetry instrumentation
needs ours current during the publish; nothing else may see it)."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.app import app_or_default
from celery.signals import before_task_publish

from llmix_workers.producer import CompletionProducer
from llmix_workers.settings import load_settings
from llmix_workers.worker.app import create_app

REQUEST = {"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_the_users_current_app_stays_current() -> None:
    settings = load_settings(redis={"url": "redis://127.0.0.1:1/0"})
    app = create_app(settings, broker_url="memory://", result_backend="cache+memory://")
    seen: list[Celery] = []

    def publishing(**_: Any) -> None:
        seen.append(app_or_default())

    before_task_publish.connect(publishing, weak=False)
    user = Celery("the-users-app")
    user.set_current()
    try:
        CompletionProducer(settings, app=app).submit(REQUEST)
    finally:
        before_task_publish.disconnect(publishing)
    assert seen == [app]  # ours while publishing (where OpenTelemetry looks the task up)
    assert app_or_default() is user  # the user's afterwards
