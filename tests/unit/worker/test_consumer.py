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


def raised_in(filename: str) -> AttributeError:
    """The AttributeError kombu's Redis channel raises once ``collect()`` dropped its
    connection details, with its last frame in ``filename``."""
    namespace: dict[str, Any] = {}
    code = "def connparams(conninfo):\n    return conninfo.hostname\n"
    exec(compile(code, filename, "exec"), namespace)
    try:
        namespace["connparams"](None)
    except AttributeError as exc:
        return exc
    raise AssertionError("no AttributeError")


class Blueprint:
    """Celery's consumer blueprint as far as start() goes: the loop step raises ``errors`` one
    by one, then the worker is asked to stop."""

    def human_state(self) -> str:
        return str(self.state)

    def __init__(self, errors: list[BaseException]) -> None:
        self.errors = errors
        self.state: int | None = None
        self.restarts = 0

    def start(self, parent: Any) -> None:
        self.state = 1  # RUN
        if self.errors:
            raise self.errors.pop(0)
        self.state = 2  # CLOSE: the worker is stopping

    def restart(self, parent: Any) -> None:
        self.restarts += 1


def started(errors: list[BaseException]) -> tuple[LlmixConsumer, Blueprint, list[str]]:
    made = consumer(None)
    made.blueprint = blueprint = Blueprint(errors)
    made.restart_count = 0
    made._restart_state = SimpleNamespace(step=lambda: None)
    made.hub = None
    made.connection_errors = (ConnectionError,)
    made.channel_errors = ()
    closed: list[str] = []
    made.on_close = lambda: closed.append("closed")
    made._cancel_connection_timer_entries = lambda: None
    made.start()
    return made, blueprint, closed


def test_an_ack_on_the_lost_connection_restarts_the_consumer_instead_of_stopping_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Celery's own Consumer.start lets this AttributeError out, which stops the worker."""
    stale_ack = raised_in("/site-packages/kombu/transport/redis.py")
    with caplog.at_level(logging.WARNING):
        _, blueprint, closed = started([stale_ack])
    assert blueprint.restarts == 1 and closed == ["closed"]
    assert "a broker call on the lost connection failed" in caplog.text


def test_an_attribute_error_elsewhere_is_not_hidden() -> None:
    with pytest.raises(AttributeError, match="hostname"):
        started([raised_in("/site-packages/llmix_workers/somewhere.py")])
