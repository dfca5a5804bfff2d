"""Label children bound once, for hot paths: their increment and observe as plain callables.

prometheus-client's ``Counter.inc`` and ``Histogram.observe`` re-check on every call what
binding settled (the child is observable) and walk the buckets; these skip that work, not the
exactness of the value. In a single process (``MutexValue``) every value bound here is guarded
by one lock shared by the whole :class:`~llmix_workers.telemetry.metrics.Metrics` instead of one
lock per value, so :func:`bound_hit` can add to several values under one acquisition (a cache
hit's six increments cost one lock, not six). A value must then only be written through these
callables (reading it, as a scrape does, needs no lock: a float attribute is read at once).
In multiprocess mode (``MmapedValue``: a file write per increment) each value keeps its own
``inc``. Callers check amounts themselves (never negative). Each falls back to the public
method if the library's internals differ; pyproject.toml pins prometheus-client's range and
``tests/unit/telemetry/test_bound_internals.py`` fails, naming the version, when they move.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.values import MutexValue

Inc = Callable[[float], None]


def _mutex(value: Any) -> MutexValue | None:
    """``value`` when it is a single-process value whose float can be added to directly."""
    if value.__class__ is MutexValue and isinstance(getattr(value, "_value", None), float):
        return value
    return None


def bound_inc(child: Counter, lock: threading.Lock | None = None) -> Inc:
    """``child``'s value increment, bound once (under ``lock`` when given and single-process).

    ``Counter.inc`` re-checks on every call what binding settled (the child is observable) and
    that the amount is not negative, which the callers here check themselves; this skips those
    checks, not a lock nor the multiprocess file (3x cheaper on the hit path).
    """
    value = getattr(child, "_value", None)
    mutex = _mutex(value) if lock is not None else None
    if mutex is not None and lock is not None:

        def inc(amount: float) -> None:
            with lock:
                mutex._value += amount

        return inc
    return value.inc if callable(getattr(value, "inc", None)) else child.inc  # type: ignore[union-attr]


def bound_observe(child: Histogram, lock: threading.Lock | None = None) -> Inc:
    """``child.observe``, bound once: the bucket found by bisection, then two increments (the
    public method re-checks observability and walks the buckets on every call). Exemplars are
    not used here. Falls back to ``observe`` if the library's internals differ."""
    parts = histogram_parts(child)
    if parts is None:
        return child.observe
    bounds, buckets, total = parts
    mutexes = [_mutex(value) for value in (total, *buckets)] if lock is not None else []
    if lock is not None and mutexes and all(m is not None for m in mutexes):
        values: list[Any] = mutexes

        def observe_locked(amount: float) -> None:
            with lock:
                values[0]._value += amount
                values[bisect_left(bounds, amount) + 1]._value += 1.0

        return observe_locked
    bucket_incs = [bucket.inc for bucket in buckets]
    sum_inc = total.inc

    def observe(amount: float) -> None:
        sum_inc(amount)
        bucket_incs[bisect_left(bounds, amount)](1)

    return observe


def histogram_parts(child: Histogram) -> tuple[list[float], list[Any], Any] | None:
    """A histogram child's upper bounds, bucket values and sum value (``None``: unknown shape)."""
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    if not isinstance(bounds, list) or not isinstance(buckets, list) or total is None:
        return None
    return bounds, buckets, total


#: Records one job answered without a paid call: ``(duration_s, input_tokens, output_tokens,
#: usd)`` into its completion, latency, saved tokens and saved dollars, under one lock.
Hit = Callable[[float, float, float, float], None]


def bound_hit(
    ok: Counter, latency: Histogram, saved: tuple[Counter, Counter], usd: Counter,
    lock: threading.Lock,
) -> Hit | None:  # fmt: skip
    """The six increments of a cache hit or shared call as one call under ``lock``; ``None``
    when any value is not a single-process one (the caller then increments one by one)."""
    parts = histogram_parts(latency)
    if parts is None:
        return None
    bounds, buckets, total = parts
    found: list[Any] = [_mutex(getattr(c, "_value", None)) for c in (ok, *saved, usd)]
    found += [_mutex(total), *(_mutex(bucket) for bucket in buckets)]
    if not all(value is not None for value in found):
        return None
    count_v, in_v, out_v, usd_v, sum_v = found[:5]
    bucket_values = found[5:]

    def hit(duration_s: float, input_tokens: float, output_tokens: float, usd: float) -> None:
        with lock:
            count_v._value += 1.0
            sum_v._value += duration_s
            bucket_values[bisect_left(bounds, duration_s)]._value += 1.0
            in_v._value += input_tokens
            out_v._value += output_tokens
            if usd:
                usd_v._value += usd

    return hit


def not_negative(*amounts: float) -> None:
    if min(amounts) < 0:
        raise ValueError(f"amounts must not be negative: {amounts}")
