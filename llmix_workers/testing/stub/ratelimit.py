"""StubLimits: the stub's own requests- and tokens-per-minute limits, across every caller.

Each limit is a bucket that holds one second's worth of the per-minute figure and refills
continuously (600 requests a minute: 10 at once, one more every 0.1 s), the way OpenAI says a
limit "may be quantized, enforced over shorter periods". A request is charged one request and
the tokens its answer reports (input + output); one that does not fit either bucket is answered
429 with ``retry-after`` (whole seconds, at least 1) and ``retry-after-ms``, and nothing is
charged. Every answer carries OpenAI's ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``
headers, ``remaining`` scaled to the per-minute figure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

#: Seconds of the per-minute figure a bucket holds.
BUCKET_S: Final = 1.0
#: A shortfall this small (in requests or tokens) is float rounding, not a refusal.
ROUNDING: Final = 1e-6


@dataclass
class _Bucket:
    per_minute: int
    level: float = field(init=False)
    at: float = 0.0

    def __post_init__(self) -> None:
        self.level = self.capacity

    @property
    def capacity(self) -> float:
        return self.per_minute / 60 * BUCKET_S

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.at) * self.per_minute / 60)
        self.at = now

    def wait_s(self, cost: float) -> float:
        """Seconds until ``cost`` fits (0: it fits now); a cost above the capacity waits for a
        full bucket."""
        need = min(cost, self.capacity) - self.level
        return 0.0 if need <= ROUNDING else need * 60 / self.per_minute

    def headers(self, kind: str) -> dict[str, str]:
        remaining = int(self.level / self.capacity * self.per_minute)
        reset_s = (self.capacity - self.level) * 60 / self.per_minute
        return {
            f"x-ratelimit-limit-{kind}": str(self.per_minute),
            f"x-ratelimit-remaining-{kind}": str(max(0, remaining)),
            f"x-ratelimit-reset-{kind}": f"{math.ceil(reset_s * 1000)}ms",
        }


class StubLimits:
    """Requests and tokens per minute (``None``: no limit of that kind). Not thread-safe: the
    stub's state calls it under its own lock."""

    def __init__(
        self,
        rpm: int | None = None,
        tpm: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        now = clock()
        self._buckets: dict[str, _Bucket] = {}
        for kind, per_minute in (("requests", rpm), ("tokens", tpm)):
            if per_minute is not None:
                if per_minute < 1:
                    raise ValueError(f"{kind} per minute must be at least 1 (got {per_minute})")
                self._buckets[kind] = _Bucket(per_minute, at=now)

    @property
    def active(self) -> bool:
        return bool(self._buckets)

    def charge(self, tokens: int) -> tuple[float, dict[str, str]]:
        """Charge one request of ``tokens``: ``(0, headers)`` when it fits, else the seconds to
        wait and the headers of a 429 (nothing charged)."""
        now = self._clock()
        costs = {"requests": 1.0, "tokens": float(tokens)}
        for bucket in self._buckets.values():
            bucket.refill(now)
        wait_s = max((b.wait_s(costs[k]) for k, b in self._buckets.items()), default=0.0)
        if wait_s <= 0:
            for kind, bucket in self._buckets.items():
                bucket.level -= min(costs[kind], bucket.level)
        headers: dict[str, str] = {}
        for kind, bucket in self._buckets.items():
            headers.update(bucket.headers(kind))
        if wait_s > 0:
            headers["retry-after"] = str(max(1, math.ceil(wait_s)))
            headers["retry-after-ms"] = str(math.ceil(wait_s * 1000))
        return wait_s, headers
