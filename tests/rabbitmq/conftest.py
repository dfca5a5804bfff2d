"""The machine's RabbitMQ (127.0.0.1:5672, guest/guest) with a virtual host per test module.

Without RabbitMQ these tests skip and say why, except under ``CI=true`` (``.ci/run``), where an
unreachable RabbitMQ fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from llmix_workers.errors import ConfigError
from llmix_workers.testing.rabbitmq import PrivateVhost, rabbitmq_reachable

UNREACHABLE = (
    "RabbitMQ is not reachable on 127.0.0.1:5672 (apt install rabbitmq-server; guest/guest "
    "from loopback); CI=true makes this a failure"
)


@pytest.fixture(scope="module")
def vhost() -> Iterator[PrivateVhost]:
    if not rabbitmq_reachable():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(UNREACHABLE)
        pytest.skip(UNREACHABLE)
    try:
        private = PrivateVhost().create()
    except ConfigError as exc:
        pytest.fail(f"cannot create a RabbitMQ virtual host for the test: {exc}")
    yield private
    private.delete()
