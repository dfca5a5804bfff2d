"""A fleet per test module: private Redis, the stub provider, real worker processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet

#: Short delivery timings so a killed worker's job comes back within seconds.
FAST_DELIVERY = {
    "LLMIX_WORKER__VISIBILITY_TIMEOUT_S": "4",
    "LLMIX_WORKER__RESTORE_INTERVAL_S": "0.5",
    "LLMIX_WORKER__PREFETCH_MULTIPLIER": "1",
    "LLMIX_LLM__MAX_INLINE_WAIT_S": "1.5",
    "LLMIX_LLM__TIMEOUT_S": "10",
}


@pytest.fixture(scope="module")
def fleet() -> Iterator[LocalFleet]:
    with LocalFleet(worker_env=FAST_DELIVERY) as local:
        yield local


@pytest.fixture
def clean_fleet(fleet: LocalFleet) -> Iterator[LocalFleet]:
    """The module's fleet with an empty stub log; workers added by the test are stopped after."""
    assert fleet.stub is not None
    fleet.stub.reset()
    before = list(fleet.workers)
    yield fleet
    for worker in fleet.workers[len(before) :]:
        worker.stop()
    del fleet.workers[len(before) :]


@pytest.fixture(scope="module")
def producer(fleet: LocalFleet) -> CompletionProducer:
    return CompletionProducer(fleet.settings())


def flush_cache(fleet: LocalFleet) -> None:
    client = redis.Redis.from_url(fleet.redis_url)
    for key in client.scan_iter("llmix:resp:*"):
        client.unlink(key)
    client.close()
