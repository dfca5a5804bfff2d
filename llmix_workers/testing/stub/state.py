"""StubState: what the stub provider has been told to do and what it has received.

Counting is exact under any concurrency: every provider request is counted under one lock, at
receipt, whatever its fate (answered, faulted, reset).
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from llmix_workers.testing.stub.faults import OK, Fault, prompt_faults

RECENT_REQUESTS = 200


def key_fingerprint(key: str | None) -> str:
    """12 hex digits naming an API key without revealing it (``"none"`` for no key)."""
    if not key:
        return "none"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass
class StubConfig:
    """The stub's standing behaviour (what ``/_stub/reset`` goes back to)."""

    latency_ms: int = 0
    fault_rate: float = 0.0
    rate_fault: Fault = field(default_factory=lambda: Fault.parse(503))
    seed: int = 0
    reject_keys: frozenset[str] = frozenset()


@dataclass
class Received:
    """One provider request as the stub saw it."""

    path: str
    digest: str
    model: str
    key: str | None
    prompt: str
    body: dict[str, Any]


class StubState:
    """Counters, the queue of scripted faults, and the standing config. Thread-safe."""

    def __init__(self, config: StubConfig) -> None:
        self._initial = config
        self._lock = threading.Lock()
        self._reset_locked()

    def reset(self) -> None:
        """Zero the counters, drop scripted faults, go back to the starting config."""
        with self._lock:
            self._reset_locked()

    def script(
        self,
        faults: Iterable[Fault] = (),
        *,
        fault_rate: float | None = None,
        rate_fault: Fault | None = None,
        latency_ms: int | None = None,
        reject_keys: Iterable[str] | None = None,
    ) -> None:
        """Queue ``faults`` (one per coming request, in order) and change the standing config."""
        with self._lock:
            self._queue.extend(faults)
            config = self.config
            if fault_rate is not None:
                config.fault_rate = fault_rate
            if rate_fault is not None:
                config.rate_fault = rate_fault
            if latency_ms is not None:
                config.latency_ms = latency_ms
            if reject_keys is not None:
                config.reject_keys = frozenset(reject_keys)

    def receive(self, request: Received) -> tuple[Fault, int]:
        """Count ``request`` and decide its fate: (fault, latency in ms).

        Order: a rejected key (401), then the scripted queue, then prompt markers, then the
        random rate; else a normal answer.
        """
        with self._lock:
            fingerprint = key_fingerprint(request.key)
            self._counts["total"] += 1
            self._by["path"][request.path] += 1
            self._by["digest"][request.digest] += 1
            self._by["model"][request.model] += 1
            self._by["key"][fingerprint] += 1
            fault = self._pick(request)
            self._by["outcome"][fault.kind if fault.kind != "status" else str(fault.status)] += 1
            self._recent.append(
                {"path": request.path, "key": fingerprint, "body": request.body, "at": time.time()}
            )
            return fault, self.config.latency_ms

    def calls(self) -> dict[str, Any]:
        """Counts: ``total`` and ``by_path`` / ``by_digest`` / ``by_model`` / ``by_key`` /
        ``by_outcome`` (``ok``, a status such as ``"429"``, or a fault kind)."""
        with self._lock:
            snapshot: dict[str, Any] = {"total": self._counts["total"]}
            snapshot.update({f"by_{name}": dict(counter) for name, counter in self._by.items()})
            return snapshot

    def recent(self) -> list[dict[str, Any]]:
        """The last requests received, oldest first: path, key fingerprint and JSON body."""
        with self._lock:
            return list(self._recent)

    def _pick(self, request: Received) -> Fault:
        config = self.config
        if request.key is not None and request.key in config.reject_keys:
            return Fault(
                kind="status", status=401, message=f"Incorrect API key provided: {request.key}"
            )
        if self._queue:
            return self._queue.popleft()
        markers = prompt_faults(request.prompt)
        if markers:
            return markers[0]
        if config.fault_rate and self._random.random() < config.fault_rate:
            return config.rate_fault
        return Fault(OK)

    def _reset_locked(self) -> None:
        initial = self._initial
        self.config = StubConfig(
            initial.latency_ms,
            initial.fault_rate,
            initial.rate_fault,
            initial.seed,
            initial.reject_keys,
        )
        self._random = random.Random(initial.seed)
        self._queue: deque[Fault] = deque()
        self._counts: Counter[str] = Counter()
        self._by: dict[str, Counter[str]] = {
            name: Counter() for name in ("path", "digest", "model", "key", "outcome")
        }
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)
