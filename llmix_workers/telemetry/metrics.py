"""Metrics: the catalogue's families behind small methods that are cheap on hot paths.

Label children are bound once (the fixed label sets at construction, each ``(provider, model)``
and each provider on first use), so a hot call is a dict lookup and an ``inc``/``observe``.
Thread-safe. When metrics are off, callers hold ``None`` instead of a ``Metrics``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from llmix_workers.telemetry.bound import Inc, bound_inc, bound_observe, not_negative
from llmix_workers.telemetry.catalogue import (
    CLEAR_RESULTS,
    CLEAR_SCOPES,
    COMPLETION_OUTCOMES,
    L2_OPERATIONS,
    LOOKUP_OUTCOMES,
    OTHER_MODEL,
    STATUS_CLASSES,
    WAIT_KINDS,
    create_families,
)
from llmix_workers.telemetry.status import status_class

if TYPE_CHECKING:
    from llmix_workers.settings import TelemetrySettings

__all__ = ["Metrics", "status_class"]

_BREAKER_VALUES = {"CLOSED": 0, "HALF_OPEN": 1, "OPEN": 2}
#: Raw model names kept for the one-lookup path, per ``max_models``.
_NAMES_PER_LABEL = 4
_K = TypeVar("_K")
_T = TypeVar("_T")


class Price(Protocol):
    """USD per million tokens (``ModelPrice`` in settings has this shape)."""

    @property
    def input_per_million(self) -> float: ...
    @property
    def output_per_million(self) -> float: ...


@dataclass(frozen=True, slots=True)
class _ModelSeries:
    completions: dict[str, Inc]
    call_duration: Histogram
    tokens: tuple[Inc, Inc]
    saved: tuple[Inc, Inc]
    cost_saved: Inc


@dataclass(frozen=True, slots=True)
class _ProviderSeries:
    errors: dict[str, Counter]
    retries: Counter
    requeues: Counter
    breaker: Gauge


def _pick(children: Mapping[_K, _T], value: _K, label: str) -> _T:
    try:
        return children[value]
    except KeyError:
        raise ValueError(f"{label}={value!r} is not one of {list(children)}") from None


class Metrics:
    """Every ``llmix_*`` metric, registered in ``registry`` (default: the process ``REGISTRY``).

    ``max_models``: the first that many distinct models keep their name as the ``model`` label,
    later ones are counted as ``other``. ``prices`` (model → USD per million tokens) turns saved
    tokens into ``llmix_cost_saved_usd_total``; a model without a price saves no dollars.
    A label value outside its fixed set raises ``ValueError``; negative amounts raise too.
    One ``Metrics`` per registry (a second one raises ``ValueError``), so one per process.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        max_models: int = 20,
        prices: Mapping[str, Price] | None = None,
    ) -> None:
        f = self._f = create_families(REGISTRY if registry is None else registry)
        self._max_models = max_models
        self._prices = dict(prices or {})
        self._lock = threading.Lock()
        self._models: dict[str, str] = {}
        self._by_model: dict[tuple[str, str], _ModelSeries] = {}
        self._by_name: dict[tuple[str, str], _ModelSeries] = {}
        self._by_provider: dict[str, _ProviderSeries] = {}
        self._lookups = {o: bound_inc(f.lookups.labels(o)) for o in LOOKUP_OUTCOMES}
        self._durations = {
            c: bound_observe(f.completion_duration.labels(c)) for c in LOOKUP_OUTCOMES
        }
        self._l2_errors = {op: f.l2_errors.labels(op) for op in L2_OPERATIONS}
        self._clears = {(s, r): f.clears.labels(s, r) for s in CLEAR_SCOPES for r in CLEAR_RESULTS}
        self._waits = {k: f.single_flight_waits.labels(k) for k in WAIT_KINDS}

    @classmethod
    def from_settings(
        cls, section: TelemetrySettings, registry: CollectorRegistry | None = None
    ) -> Metrics:
        """A ``Metrics`` with the model bound and price table of the ``[telemetry]`` section."""
        return cls(registry, max_models=section.max_model_labels, prices=section.prices)

    def model_label(self, model: str) -> str:
        """``model`` if it is among the first ``max_models`` names seen here, else ``other``."""
        label = self._models.get(model)
        if label is not None:
            return label
        if len(self._models) >= self._max_models:
            return OTHER_MODEL
        with self._lock:
            if len(self._models) < self._max_models:
                self._models.setdefault(model, model)
        return self._models.get(model, OTHER_MODEL)

    def _model(self, provider: str, model: str) -> _ModelSeries:
        series = self._by_name.get((provider, model))
        return series if series is not None else self._model_slow(provider, model)

    def _model_slow(self, provider: str, model: str) -> _ModelSeries:
        key = (provider, self.model_label(model))
        with self._lock:
            series = self._by_model.get(key) or self._new_model_series(*key)
            self._by_model[key] = series
            if len(self._by_name) < _NAMES_PER_LABEL * self._max_models:
                self._by_name[(provider, model)] = series
        return series

    def _new_model_series(self, provider: str, model: str) -> _ModelSeries:
        f = self._f
        return _ModelSeries(
            completions={
                o: bound_inc(f.completions.labels(provider, model, o)) for o in COMPLETION_OUTCOMES
            },
            call_duration=f.llm_call_duration.labels(provider, model),
            tokens=(
                bound_inc(f.tokens.labels(provider, model, "input")),
                bound_inc(f.tokens.labels(provider, model, "output")),
            ),
            saved=(
                bound_inc(f.tokens_saved.labels(provider, model, "input")),
                bound_inc(f.tokens_saved.labels(provider, model, "output")),
            ),
            cost_saved=bound_inc(f.cost_saved.labels(provider, model)),
        )

    def _provider(self, provider: str) -> _ProviderSeries:
        series = self._by_provider.get(provider)
        if series is None:
            f = self._f
            with self._lock:
                series = self._by_provider.get(provider) or _ProviderSeries(
                    errors={c: f.llm_errors.labels(provider, c) for c in STATUS_CLASSES},
                    retries=f.llm_retries.labels(provider),
                    requeues=f.requeues.labels(provider),
                    breaker=f.breaker_state.labels(provider),
                )
                self._by_provider[provider] = series
        return series

    def lookup(self, outcome: str) -> None:
        """One cache lookup: ``l1_hit``, ``l2_hit`` or ``miss``."""
        (self._lookups.get(outcome) or _pick(self._lookups, outcome, "outcome"))(1)

    def completion(
        self, provider: str, model: str, outcome: str, cache: str, duration_s: float
    ) -> None:
        """A finished job: ``outcome`` ``ok``/``error``, ``cache`` as in :meth:`lookup`, seconds."""
        series = self._model(provider, model)
        try:
            inc, observe = series.completions[outcome], self._durations[cache]
        except KeyError:
            _pick(series.completions, outcome, "outcome")
            _pick(self._durations, cache, "cache")
            raise
        inc(1)
        observe(duration_s)

    def shared_completion(
        self, provider: str, model: str, cache: str, duration_s: float,
        saved_model: str, input_tokens: int, output_tokens: int,
    ) -> float:  # fmt: skip
        """A job answered by the cache or a shared call: :meth:`completion` (``ok``) and
        :meth:`tokens_saved` for ``saved_model`` in one call; returns the USD saved."""
        not_negative(input_tokens, output_tokens)
        series = self._model(provider, model)
        try:
            observe = self._durations[cache]
        except KeyError:
            _pick(self._durations, cache, "cache")
        series.completions["ok"](1)
        observe(duration_s)
        if saved_model != model:
            series = self._model(provider, saved_model)
        return self._save(series, saved_model, input_tokens, output_tokens)

    def llm_call(self, provider: str, model: str, duration_s: float) -> None:
        """One provider call, all its attempts, in seconds."""
        self._model(provider, model).call_duration.observe(duration_s)

    def tokens(self, provider: str, model: str, input_tokens: int, output_tokens: int) -> None:
        """Tokens paid for in a provider call."""
        not_negative(input_tokens, output_tokens)
        paid_in, paid_out = self._model(provider, model).tokens
        paid_in(input_tokens)
        paid_out(output_tokens)

    def tokens_saved(
        self, provider: str, model: str, input_tokens: int, output_tokens: int
    ) -> float:
        """Tokens a cache hit or shared call did not pay for; returns the USD saved (0 unpriced)."""
        not_negative(input_tokens, output_tokens)
        return self._save(self._model(provider, model), model, input_tokens, output_tokens)

    def _save(
        self, series: _ModelSeries, model: str, input_tokens: int, output_tokens: int
    ) -> float:
        series.saved[0](input_tokens)
        series.saved[1](output_tokens)
        price = self._prices.get(model)
        if price is None:
            return 0.0
        usd = (
            input_tokens * price.input_per_million + output_tokens * price.output_per_million
        ) / 1e6
        series.cost_saved(usd)
        return usd

    def llm_error(self, provider: str, status_class: str) -> None:
        """A provider error, classified by :func:`status_class`."""
        _pick(self._provider(provider).errors, status_class, "status_class").inc()

    def retry(self, provider: str) -> None:
        """One retry inside the worker."""
        self._provider(provider).retries.inc()

    def requeue(self, provider: str) -> None:
        """One job re-queued with a countdown."""
        self._provider(provider).requeues.inc()

    def breaker_state(self, provider: str, state: str | Enum) -> None:
        """The breaker's state: ``CLOSED``/``HALF_OPEN``/``OPEN`` (or a ``BreakerState``)."""
        name = state.value if isinstance(state, Enum) else state
        value = _pick(_BREAKER_VALUES, str(name).upper(), "state")
        self._provider(provider).breaker.set(value)

    def l2_error(self, operation: str) -> None:
        """A failed L2 ``get``, ``set`` or ``delete``."""
        _pick(self._l2_errors, operation, "operation").inc()

    def l2_healthy(self, healthy: bool) -> None:
        """Whether this process's L2 is marked healthy."""
        self._f.l2_healthy.set(1 if healthy else 0)

    def l1_entries(self, count: int) -> None:
        """How many entries this process's L1 holds now."""
        self._f.l1_entries.set(count)

    def l1_dropped(self, count: int) -> None:
        """``count`` L1 entries dropped because the fleet generation moved."""
        self._f.l1_dropped.inc(count)

    def clear(self, scope: str, result: str) -> None:
        """A clear: ``scope`` ``local``/``fleet``, ``result`` ``ok``/``failed``/``incomplete``."""
        _pick(self._clears, (scope, result), "(scope, result)").inc()

    def generation(self, generation: int) -> None:
        """The fleet generation this process has applied."""
        self._f.fleet_generation.set(generation)

    def blocked_read(self) -> None:
        """One L2 read refused because the fleet blocked L2."""
        self._f.l2_blocked_reads.inc()

    def single_flight_wait(self, kind: str) -> None:
        """A job waited for another's call: ``in_process`` or ``fleet_lock``."""
        _pick(self._waits, kind, "kind").inc()

    def lock_takeover(self) -> None:
        """A fleet lock taken over after its holder vanished."""
        self._f.lock_takeovers.inc()

    def worker_process(self, up: bool) -> None:
        """This process holds an L1 (``True`` at start, ``False`` at shutdown)."""
        self._f.worker_processes.set(1 if up else 0)
