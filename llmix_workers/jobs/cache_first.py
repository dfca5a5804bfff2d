"""CacheFirst: answer a batch's cached requests in the producer, send only the misses.

A re-run of a batch whose answers are mostly cached should run at cache speed, not at the
broker's pace. Before anything is sent, every request's key is looked up in L2 with pipelined
MGETs, under the same rules as a worker: the request's cache mode, entry expiry, the fleet's
generation and blocked flag (read through a :class:`~llmix_workers.fleet.view.FleetView`, and a
clear landing during the lookup drops its hits). A hit becomes the job's output at once, marked
``answeredBy: "producer"``; everything else goes to the workers as usual. What it answered is
listed for the fleet's metrics (:class:`~llmix_workers.fleet.answers.AnswerLog`): the producer
is not scraped, so a worker counts it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from llmix_workers.cache.backend import MISS
from llmix_workers.cache.keys import generate_cache_key
from llmix_workers.cache.tiered import TwoTierCache
from llmix_workers.fleet.answers import Answered, AnswerLog
from llmix_workers.jobs.job import READING_MODES, CompletionJob
from llmix_workers.jobs.output import output_from_hit

#: The ``worker`` and ``answeredBy`` of an output the producer answered from the cache.
PRODUCER = "producer"


class CacheFirst:
    """Batch lookups for one producer process; thread-safe as its cache is."""

    def __init__(self, cache: TwoTierCache, *, answers: AnswerLog | None = None) -> None:
        self.cache = cache
        self.answers = answers

    def answer(self, jobs: Sequence[CompletionJob | None]) -> list[dict[str, Any] | None]:
        """The output of each job found in the cache, ``None`` for the others (and for ``None``
        items: requests that did not validate). One L2 round trip for the whole batch."""
        started = time.perf_counter()
        wanted = [(index, job) for index, job in enumerate(jobs)
                  if job is not None and job.cache in READING_MODES]  # fmt: skip
        keys = [generate_cache_key(job.request.wire(), self.cache.key_prefix) for _, job in wanted]
        outputs: list[dict[str, Any] | None] = [None] * len(jobs)
        for (index, job), key, hit in zip(wanted, keys, self.cache.get_many(keys), strict=True):
            if hit is MISS:
                continue
            output = output_from_hit(job, hit, key, started, worker=PRODUCER, coalesced=False)
            output["cacheHit"] = "l2"  # the producer's L1 is a copy of L2, not a worker's L1
            output["answeredBy"] = PRODUCER
            outputs[index] = output
        if self.answers is not None:
            self.answers.record(tally(jobs, outputs))
        return outputs

    def close(self) -> None:
        self.cache.close()
        if self.answers is not None:
            self.answers.close()


def tally(
    jobs: Sequence[CompletionJob | None], outputs: Sequence[dict[str, Any] | None]
) -> list[Answered]:
    """The answered jobs, per provider, requested model and answering model."""
    counts: dict[tuple[str, str, str], list[int]] = {}
    for job, output in zip(jobs, outputs, strict=True):
        if job is None or output is None:
            continue
        usage = output.get("usage") or {}
        saved = output.get("model")
        key = (job.request.provider, job.request.model,
               saved if isinstance(saved, str) else job.request.model)  # fmt: skip
        count = counts.setdefault(key, [0, 0, 0])
        count[0] += 1
        count[1] += _tokens(usage.get("inputTokens"))
        count[2] += _tokens(usage.get("outputTokens"))
    return [Answered(*key, *count) for key, count in counts.items()]


def _tokens(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0
