"""LlmixConsumer: a lost broker connection whose close fails still ends in a reconnect.

Celery 5.7.0's consumer closes the lost connection with ``ignore_errors``; kombu's Redis channel
can raise ``AttributeError`` there (seen on a Sentinel failover with a prefork node holding
unacknowledged jobs), which stopped the worker. Run against Celery's own ``Consumer``, the
first test fails with that ``AttributeError``.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from celery.exceptions import CPendingDeprecationWarning

from llmix_workers.settings import Settings
from llmix_workers.worker.app import create_app
from llmix_workers.worker.consumer import LlmixConsumer


class CollectedConnection:
    """A broker connection that ``collect()`` has emptied: closing it raises what kombu's Redis
    channel raised (its transport's connection details are gone)."""

    connection_errors: tuple[type[BaseException], ...] = (ConnectionError,)
    channel_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.collected = False

    def collect(self, socket_timeout: float | None = None) -> None:
        self.collected = True

    def close(self) -> None:
        raise self.error


def consumer(connection: Any) -> LlmixConsumer:
    """The consumer state the connection-loss handler reads, without starting a worker."""
    made = LlmixConsumer.__new__(LlmixConsumer)
    made.app = create_app(Settings(redis={"url": "redis://127.0.0.1:1/0"}))
    made.connection = connection
    made.pool = SimpleNamespace(num_processes=4)
    made.qos_global = True
    made.prefetch_multiplier = 1
    made.initial_prefetch_count = 4
    made._maximum_prefetch_restored = True
    return made


def test_a_failing_close_of_the_lost_connection_is_logged_and_the_consumer_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lost = CollectedConnection(AttributeError("'NoneType' object has no attribute 'hostname'"))
    made = consumer(lost)
    with caplog.at_level(logging.WARNING), pytest.warns(CPendingDeprecationWarning):
        made.on_connection_error_after_connected(ConnectionError("primary gone"))
    assert lost.collected and made.connection is None  # Celery's handling ran to its end
    assert "closing the lost broker connection failed" in caplog.text


def test_an_error_after_the_connection_is_gone_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = consumer(CollectedConnection(ConnectionError("refused")))  # ignored by Celery itself

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug in the rest of the handler")

    monkeypatch.setattr("celery.worker.consumer.consumer.warnings.warn", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        made.on_connection_error_after_connected(ConnectionError("primary gone"))


def test_workers_use_it() -> None:
    app = create_app(Settings(redis={"url": "redis://127.0.0.1:1/0"}))
    assert app.conf.worker_consumer == "llmix_workers.worker.consumer:LlmixConsumer"
