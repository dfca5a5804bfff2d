"""The workload: lookups and writes from several workers and from the producer, recorded.

One closed loop per worker sends one job at a time to that worker's queue (``q-<name>``) through
a :class:`~llmix_workers.producer.CompletionProducer` and records the lookup: its start is taken
before the job is sent (a bound from below), its end when the result is back. Most jobs read
the cache (``default``: an L1 or L2 hit, or a provider call and a write); some only write
(``refresh``). One more loop runs cache-first batches of one request in the producer itself, as
``CompletionProducer.start_batch`` does: a hit there is a lookup the producer answered. Keys
come from a small set, so hits are common; every choice comes from the seeded random source.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from llmix_workers.jobs.job import CompletionJob
from llmix_workers.producer import CompletionProducer, JobOutcome
from llmix_workers.settings import Settings
from llmix_workers.testing.nemesis.history import Lookup, Recorder, Tier, now
from llmix_workers.testing.stub.answers import call_of

MODEL = "stub-model"


#: Every third key's provider call takes this long (a stub marker in its prompt): slow calls are
#: what LLM calls are, and what keeps answers in flight while faults strike.
SLOW_CALL_MS = 400


def request(key: int, cache: str = "default") -> dict[str, Any]:
    """The job for key number ``key`` (its text names the key, so its cache key is its own)."""
    slow = f" [[stub:slow={SLOW_CALL_MS}]]" if key % 3 == 0 else ""
    message = {"role": "user", "content": f"nemesis key {key}{slow}"}
    body: dict[str, Any] = {"provider": "openai", "model": MODEL, "messages": [message]}
    if cache != "default":
        body["cache"] = cache
    return body


@dataclass(frozen=True)
class WorkloadPlan:
    """How much and what: ``seconds`` long, keys ``0..keys-1``, ``pace_s`` between a loop's
    jobs, ``refresh_share`` of worker jobs that only write, ``job_timeout_s`` per job."""

    seed: int
    workers: tuple[str, ...]
    seconds: float
    keys: int = 12
    pace_s: float = 0.03
    refresh_share: float = 0.1
    producer_lookups: bool = True
    job_timeout_s: float = 10.0


class Workload:
    """Runs a :class:`WorkloadPlan` against the fleet, recording into ``recorder``."""

    def __init__(self, settings: Settings, plan: WorkloadPlan, recorder: Recorder) -> None:
        self.settings = settings
        self.plan = plan
        self.recorder = recorder
        self.counts: dict[str, int] = {"lookups": 0, "writes": 0, "errors": 0}
        self._lock = threading.Lock()
        self._deadline = 0.0

    def run(self) -> dict[str, int]:
        """Run every loop until ``plan.seconds`` have passed; return the counts."""
        self._deadline = time.monotonic() + self.plan.seconds
        loops = [threading.Thread(target=self._worker_loop, args=(name, index), daemon=True)
                 for index, name in enumerate(self.plan.workers)]  # fmt: skip
        if self.plan.producer_lookups:
            loops.append(threading.Thread(target=self._producer_loop, daemon=True))
        for loop in loops:
            loop.start()
        for loop in loops:
            loop.join(self.plan.seconds + self.plan.job_timeout_s + 30)
        return dict(self.counts)

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def _worker_loop(self, worker: str, index: int) -> None:
        rng = random.Random(f"{self.plan.seed}/{worker}")
        producer = CompletionProducer(self.settings)
        queue = f"q-{worker}"
        while time.monotonic() < self._deadline:
            key = rng.randrange(self.plan.keys)
            writes_only = rng.random() < self.plan.refresh_share
            start = now()
            outcome = producer.run_batch([request(key, "refresh" if writes_only else "default")],
                                         queue=queue, cache_first=False,
                                         timeout_s=self.plan.job_timeout_s)[0]  # fmt: skip
            end = now()
            if writes_only:
                self._count("writes")
            else:
                self._record(outcome, key, start, end, via="worker", fallback=f"{worker}@llmix")
            time.sleep(rng.uniform(0, 2 * self.plan.pace_s))

    def _producer_loop(self) -> None:
        rng = random.Random(f"{self.plan.seed}/producer")
        producer = CompletionProducer(self.settings)
        lookup = producer.cache_first
        if lookup is None:
            return
        while time.monotonic() < self._deadline:
            key = rng.randrange(self.plan.keys)
            job = CompletionJob.from_payload(request(key))
            l1_before = lookup.cache.l1_hits
            start = now()
            output = lookup.answer([job])[0]
            end = now()
            if output is not None:
                tier: Tier = "l1" if lookup.cache.l1_hits > l1_before else "l2"
                self._add(Lookup(uuid.uuid4().hex[:12], "producer", f"k{key}", start, end, tier,
                                 call_of(output.get("content")), "producer"))  # fmt: skip
            else:
                self._add(Lookup(uuid.uuid4().hex[:12], "producer", f"k{key}", start, end,
                                 via="producer"))  # fmt: skip
            time.sleep(rng.uniform(0, 2 * self.plan.pace_s))

    def _record(
        self, outcome: JobOutcome, key: int, start: float, end: float, *, via: str, fallback: str
    ) -> None:
        output = outcome.output or {}
        tier = output.get("cacheHit") if outcome.ok else None
        self._add(Lookup(
            uuid.uuid4().hex[:12], str(output.get("worker") or outcome.worker or fallback),
            f"k{key}", start, end, tier if tier in ("l1", "l2") else None,
            call_of(output.get("content")), "worker" if via == "worker" else "producer",
            outcome.error[:200] if outcome.error else None,
        ))  # fmt: skip

    def _add(self, lookup: Lookup) -> None:
        self.recorder.add(lookup)
        self._count("errors" if lookup.error else "lookups")
