"""Jobs a producer answered from the cache, handed to the fleet's metrics through Redis.

A cache-first batch answers its hits in the producer, which no Prometheus scrapes. So the
producer lists what it answered (per provider, requested model and answering model: jobs and
the tokens they did not pay for) in the fleet's Redis, and at its next sync one worker process
with metrics takes each item (atomically, in the member's check) and counts it:
``llmix_cache_lookups_total{outcome="producer_hit"}`` and the tokens and dollars saved. Each item is
counted once, by whichever process takes it (best effort: an item the producer could not list,
or that waits a day for a worker with metrics, is not counted).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import orjson
import redis

from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.topology.clients import REDIS_ERRORS

logger = logging.getLogger(__name__)
#: Items waiting for a worker to count them: the newest kept, for at most a day.
ANSWERS_KEPT: Final = 10_000
ANSWERS_TTL_S: Final = 86_400


@dataclass(frozen=True, slots=True)
class Answered:
    """``jobs`` jobs for ``provider``/``model`` answered from an entry written by a call to
    ``saved_model``, which saved ``input_tokens`` and ``output_tokens`` in all."""

    provider: str
    model: str
    saved_model: str
    jobs: int
    input_tokens: int
    output_tokens: int

    def to_wire(self) -> bytes:
        return orjson.dumps([self.provider, self.model, self.saved_model, self.jobs,
                             self.input_tokens, self.output_tokens])  # fmt: skip

    @classmethod
    def from_wire(cls, raw: bytes | str) -> Answered:
        """Raises ``ValueError`` on anything but what :meth:`to_wire` writes."""
        try:
            provider, model, saved, jobs, tokens_in, tokens_out = orjson.loads(raw)
            fields: list[Any] = [str(provider), str(model), str(saved), int(jobs),
                                 int(tokens_in), int(tokens_out)]  # fmt: skip
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            raise ValueError(f"not a producer answers item: {exc}") from None
        if min(fields[3:]) < 0:
            raise ValueError("a producer answers item with a negative count")
        return cls(*fields)


class FleetCounts(Protocol):
    """Told what a member took from the fleet's lists at a sync, to count it (telemetry).

    Each item is taken by one process of the fleet; the methods must not raise."""

    def clear_result(self, result: str) -> None:
        """A fleet clear ended with ``result`` (``ok``, ``failed``, ``incomplete``)."""
        ...

    def producer_answered(self, answered: Answered) -> None:
        """A producer answered jobs from the cache (see the module docstring)."""
        ...


def hand_over(counts: FleetCounts, results: Iterable[Any], answers: Iterable[Any]) -> None:
    """Give ``counts`` the clear results and producer answers a sync took (bytes or text)."""
    for result in results:
        counts.clear_result(result.decode() if isinstance(result, bytes) else str(result))
    for raw in answers:
        try:
            counts.producer_answered(Answered.from_wire(raw))
        except ValueError as exc:
            logger.warning("producer answers item not counted: %s", exc)


class AnswerLog:
    """The producer's side: lists what it answered. Thread-safe; errors are logged, not raised."""

    def __init__(self, client: redis.Redis, keys: FleetKeys) -> None:
        self._client = client
        self._keys = keys

    def record(self, items: Iterable[Answered]) -> None:
        """List ``items`` for the fleet's metrics in one round trip (nothing when empty)."""
        payloads = [item.to_wire() for item in items if item.jobs]
        if not payloads:
            return
        key = self._keys.producer_answers
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.rpush(key, *payloads)
            pipe.ltrim(key, -ANSWERS_KEPT, -1)
            pipe.expire(key, ANSWERS_TTL_S)
            pipe.execute()
        except REDIS_ERRORS as exc:
            logger.warning("producer answers not listed for the fleet's metrics: %s", exc)

    def close(self) -> None:
        self._client.close()
