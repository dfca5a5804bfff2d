"""A worker freezes its start-up objects, so full collections stop walking them."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from celery.signals import worker_ready

from llmix_workers.settings import Settings
from llmix_workers.worker.app import create_app
from llmix_workers.worker.heap import freeze_start_up


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def tracked(thing: object) -> bool:
    """Whether a collection would walk ``thing`` (the permanent generation is not listed)."""
    return any(seen is thing for seen in gc.get_objects())


def test_start_up_objects_leave_the_collected_generations() -> None:
    long_lived = [object()]
    assert tracked(long_lived)
    frozen = freeze_start_up("test")
    assert frozen == gc.get_freeze_count() > 0
    assert not tracked(long_lived)
    made_later = [object()]
    assert tracked(made_later)


class Node:
    def __init__(self) -> None:
        self.other: object = self


def test_garbage_is_collected_before_the_freeze() -> None:
    cycle = Node()
    gone = weakref.ref(cycle)
    del cycle
    freeze_start_up("test")
    assert gone() is None  # frozen garbage would never be collected


def test_a_ready_worker_freezes_its_start_up() -> None:
    create_app(Settings(redis={"url": "redis://127.0.0.1:1/0"}))  # connects the handlers
    before = [object()]
    worker_ready.send(sender=None)
    assert gc.get_freeze_count() > 0
    assert not tracked(before)
