"""LookupSpan: a sampled cache lookup's spans, made in one go when the lookup ends.

An SDK span costs tens of µs here, several times a whole L1 hit, and most of a lookup's span
work is bookkeeping around it: attaching a context so the L2 call finds its parent, then setting
the tier and hit once known. Instead, the lookup only notes its start and marks itself pending
(a context variable, no OTel context); an L2 call inside it (:class:`~llmix_workers.telemetry.
instrumented.InstrumentedL2`) notes its own start, end and attributes there. When the lookup
ends, ``llmix.cache.get`` is started with its real start time and every attribute, each noted
L2 call becomes its child span (``llmix.l2.*``, real start and end times), and both end. Every
span is still made by the SDK tracer, sampled and exported as any other.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from time import time_ns
from typing import Final

from opentelemetry import trace

from llmix_workers.telemetry import tracing as t

_CLIENT: Final = trace.SpanKind.CLIENT
#: ``llmix.cache.get`` attributes known once the lookup answered, by outcome.
_FOUND: Final[dict[str, tuple[str, bool]]] = {
    "l1_hit": ("l1", True),
    "l2_hit": ("l2", True),
    "miss": ("none", False),
}


class _Child:
    """One L2 call noted inside a pending lookup."""

    __slots__ = ("attributes", "end", "error", "name", "start")

    def __init__(
        self, name: str, start: int, end: int, attributes: t.Attributes, error: Exception | None
    ) -> None:
        self.name = name
        self.start = start
        self.end = end
        self.attributes = attributes
        self.error = error


class LookupSpan:
    """The :class:`~llmix_workers.jobs.observer.LookupRecord` of a sampled lookup (see the
    module docstring); ``found`` counts the outcome through ``count``. One per lookup."""

    __slots__ = ("_children", "_count", "_key", "_outcome", "_start", "_token", "_tracer")

    def __init__(self, tracer: trace.Tracer, count: t.Count, key: str) -> None:
        self._tracer = tracer
        self._count = count
        self._key = key
        self._outcome = ""
        self._children: list[_Child] = []

    def __enter__(self) -> LookupSpan:
        self._start = time_ns()
        self._token: Token[LookupSpan | None] = _pending.set(self)
        return self

    def found(self, outcome: str) -> None:
        self._count(outcome)
        self._outcome = outcome

    def child(
        self, name: str, start: int, attributes: t.Attributes, error: Exception | None = None
    ) -> None:
        """Note an L2 call that started at ``start`` (ns) and ended now."""
        self._children.append(_Child(name, start, time_ns(), attributes, error))

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        _pending.reset(self._token)
        attributes: t.Attributes = {t.CACHE_KEY_DIGEST: t.key_digest(self._key)}
        found = _FOUND.get(self._outcome)
        if found is not None:
            attributes[t.CACHE_TIER], attributes[t.CACHE_HIT] = found
        span = self._tracer.start_span(
            t.SPAN_CACHE_GET, start_time=self._start, attributes=attributes
        )
        if self._children:
            parent = trace.set_span_in_context(span)
            for child in self._children:
                made = self._tracer.start_span(
                    child.name, parent, _CLIENT, child.attributes, start_time=child.start
                )
                if child.error is not None:
                    t.mark_failed(made, child.error, child.end)
                made.end(child.end)
        if exc is not None:
            t.mark_failed(span, exc)
        span.end()


_pending: ContextVar[LookupSpan | None] = ContextVar("llmix_pending_lookup", default=None)


def pending() -> LookupSpan | None:
    """The sampled lookup running in this context, if any (its L2 calls are noted there)."""
    return _pending.get()
