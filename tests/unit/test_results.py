"""ResultCollector against a result backend that goes away and comes back (issue 11 defect 5)."""

from __future__ import annotations

from typing import Any

import redis

from llmix_workers.results import Batch, ResultCollector
from llmix_workers.testing.clock import FakeClock


class FlakyBackend:
    """The key-value face of a Celery result backend; ``down`` makes every call fail."""

    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.down = False
        self.calls = 0

    def get_key_for_task(self, task_id: str) -> str:
        return f"meta-{task_id}"

    def mget(self, keys: list[str]) -> list[dict[str, Any] | None]:
        self.calls += 1
        if self.down:
            raise redis.ConnectionError("Connection refused")
        return [self.stored.get(key.removeprefix("meta-")) for key in keys]

    def decode_result(self, raw: dict[str, Any]) -> dict[str, Any]:
        return raw


def _batch(*ids: str) -> Batch:
    batch = Batch(count=len(ids))
    for index, task_id in enumerate(ids):
        batch.pending[task_id] = index
        batch.task_ids[index] = task_id
    return batch


def test_an_outage_is_waited_out_and_every_result_collected() -> None:
    clock, backend = FakeClock(0.0), FlakyBackend()
    backend.down = True
    done: list[int] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock() >= 3:  # the backend is back after three seconds, with both results
            backend.down = False
            backend.stored = {"a": {"status": "SUCCESS", "result": {"content": "A"}, "worker": "w1"},
                              "b": {"status": "RETRY", "result": None}}  # fmt: skip
        if clock() >= 4:
            backend.stored["b"] = {"status": "SUCCESS", "result": {"content": "B"}, "retries": 1}

    batch = _batch("a", "b")
    requeued: list[str] = []
    collector = ResultCollector(backend, monotonic=clock.clock, sleep=sleep)
    collector.collect(batch, 60, on_done=lambda o: done.append(o.index), on_requeue=requeued.append)
    outcomes = batch.ordered()
    assert [o.output for o in outcomes] == [{"content": "A"}, {"content": "B"}]
    assert outcomes[0].worker == "w1" and outcomes[1].requeues == 1
    assert requeued == ["b"] and sorted(done) == [0, 1]
    assert batch.outage_s >= 3


def test_results_lost_in_an_outage_are_named_at_the_deadline() -> None:
    clock, backend = FakeClock(0.0), FlakyBackend()
    backend.down = True

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        backend.down = clock() < 5

    batch = _batch("lost")
    ResultCollector(backend, monotonic=clock.clock, sleep=sleep).collect(batch, 20)
    (outcome,) = batch.ordered()
    assert outcome.error_type == "ResultLost"
    assert "no result within 20 s (task lost)" in (outcome.error or "")
    assert "unreachable for 5.0 s" in (outcome.error or "")
