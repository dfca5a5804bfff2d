"""StubState: what the stub provider has been told to do and what it has received.

Counting is exact under any concurrency: every provider request is counted under one lock, at
receipt, whatever its fate (answered, faulted, reset). With ``trace`` on, every request also gets
a call number (1, 2, ... in order of receipt) and a trace record saying when it arrived (this
machine's wall clock) and from which client address, so an answer found later in a cache can be
traced back to the moment its provider call began.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from llmix_workers.testing.stub.faults import OK, STATUS, Fault, prompt_faults
from llmix_workers.testing.stub.ratelimit import StubLimits

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
    #: Number every call, log it (:meth:`StubState.trace`) and put the number in the answer.
    trace: bool = False
    #: Requests and tokens per minute across every caller (:mod:`.ratelimit`); None: no limit.
    rpm: int | None = None
    tpm: int | None = None


class Decision(NamedTuple):
    """The fate of one request: its fault, the latency to add, and its call number (0 when
    tracing is off)."""

    fault: Fault
    latency_ms: int
    call: int


@dataclass
class Received:
    """One provider request as the stub saw it."""

    path: str
    digest: str
    model: str
    key: str | None
    prompt: str
    body: dict[str, Any]
    client: str = ""
    #: Tokens the answer would report (input + output): what a token limit charges.
    tokens: int = 0


class StubState:
    """Counters, the queue of scripted faults, and the standing config. Thread-safe."""

    def __init__(self, config: StubConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._initial = config
        self._clock = clock
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
        limits: tuple[int | None, int | None] | None = None,
    ) -> None:
        """Queue ``faults`` (one per coming request, in order) and change the standing config;
        ``limits`` are new (rpm, tpm) limits, with full buckets."""
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
            if limits is not None:
                config.rpm, config.tpm = limits
                self._limits = StubLimits(*limits, clock=self._clock)

    def receive(self, request: Received) -> Decision:
        """Count ``request`` (and trace it when tracing) and decide its fate.

        Order: a rejected key (401), then the scripted queue, then prompt markers, then the
        random rate; else a normal answer, unless the rate limits refuse it (429).
        """
        with self._lock:
            fingerprint = key_fingerprint(request.key)
            self._counts["total"] += 1
            self._by["path"][request.path] += 1
            self._by["digest"][request.digest] += 1
            self._by["model"][request.model] += 1
            self._by["key"][fingerprint] += 1
            fault = self._limited(self._pick(request), request.tokens)
            self._by["outcome"][fault.kind if fault.kind != "status" else str(fault.status)] += 1
            at = time.time()
            self._recent.append(
                {"path": request.path, "key": fingerprint, "body": request.body, "at": at}
            )
            call = 0
            if self.config.trace:
                call = len(self._trace) + 1
                self._trace.append({"call": call, "at": at, "digest": request.digest,
                                    "client": request.client, "outcome": fault.kind})  # fmt: skip
            return Decision(fault, self.config.latency_ms, call)

    def trace(self) -> list[dict[str, Any]]:
        """Every traced call since the last reset, in order: ``call`` number, ``at`` (unix
        seconds at receipt), request ``digest``, ``client`` address and ``outcome`` kind."""
        with self._lock:
            return list(self._trace)

    @property
    def limited(self) -> bool:
        """True while requests- or tokens-per-minute limits are set."""
        with self._lock:
            return self._limits.active

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

    def _limited(self, fault: Fault, tokens: int) -> Fault:
        """``fault`` with the rate-limit headers, or a 429 when an answer does not fit."""
        if fault.kind != OK or not self._limits.active:
            return fault
        wait_s, headers = self._limits.charge(tokens)
        if wait_s > 0:
            return Fault(kind=STATUS, status=429, retry_after=headers.pop("retry-after"),
                         headers=headers)  # fmt: skip
        return replace(fault, headers={**fault.headers, **headers})

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
            initial.trace,
            initial.rpm,
            initial.tpm,
        )
        self._limits = StubLimits(initial.rpm, initial.tpm, clock=self._clock)
        self._random = random.Random(initial.seed)
        self._queue: deque[Fault] = deque()
        self._counts: Counter[str] = Counter()
        self._by: dict[str, Counter[str]] = {
            name: Counter() for name in ("path", "digest", "model", "key", "outcome")
        }
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)
        self._trace: list[dict[str, Any]] = []
