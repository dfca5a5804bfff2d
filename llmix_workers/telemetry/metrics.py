"""Metrics: the catalogue's families behind small methods that are cheap on hot paths.

Label children are bound once (the fixed label sets at construction, each ``(provider, model)``
and each provider on first use, or at construction for the providers named there), so a hot
call is a dict lookup and an ``inc``/``observe``; a cache hit's six increments are one call
under one lock (:mod:`.bound`).
Thread-safe. When metrics are off, callers hold ``None`` instead of a ``Metrics``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Protocol, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry

from llmix_workers.telemetry.bound import bound_inc, bound_observe, not_negative
from llmix_workers.telemetry.catalogue import (
    CLEAR_RESULTS,
    CLEAR_SCOPES,
    JOB_CACHE,
    L2_OPERATIONS,
    LOOKUP_OUTCOMES,
    OTHER_MODEL,
    WAIT_KINDS,
    create_families,
)
from llmix_workers.telemetry.series import (
    ModelSeries,
    ProviderSeries,
    model_series,
    provider_series,
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
    One ``Metrics`` per registry (a second one raises ``ValueError``), so one per process;
    ``families`` are the registered families (the budgets' counters use them directly).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        max_models: int,
        prices: Mapping[str, Price] | None = None,
        providers: Iterable[str] = (),
    ) -> None:
        f = self._f = self.families = create_families(REGISTRY if registry is None else registry)
        self._max_models = max_models
        self._prices = dict(prices or {})
        self._lock = threading.Lock()
        #: Guards every value bound here (single process): see :mod:`.bound`.
        self._values = values = threading.Lock()
        self._models: dict[str, str] = {}
        self._by_model: dict[tuple[str, str], ModelSeries] = {}
        self._by_name: dict[tuple[str, str], ModelSeries] = {}
        self._by_provider: dict[str, ProviderSeries] = {}
        self._lookups = {o: bound_inc(f.lookups.labels(o), values) for o in LOOKUP_OUTCOMES}
        self._durations = {
            c: bound_observe(f.completion_duration.labels(c), values) for c in JOB_CACHE
        }
        self._l2_errors = {op: f.l2_errors.labels(op) for op in L2_OPERATIONS}
        self._clears = {(s, r): f.clears.labels(s, r) for s in CLEAR_SCOPES for r in CLEAR_RESULTS}
        self._waits = {k: f.single_flight_waits.labels(k) for k in WAIT_KINDS}
        for provider in providers:  # at zero from the start, so increase() sees a first error
            self._provider(provider)

    @classmethod
    def from_settings(
        cls,
        section: TelemetrySettings,
        registry: CollectorRegistry | None = None,
        *,
        providers: Iterable[str] = (),
    ) -> Metrics:
        """A ``Metrics`` with the model bound and price table of the ``[telemetry]`` section and
        the series of ``providers`` (the ones this process can call) created at zero."""
        return cls(
            registry, max_models=section.max_model_labels, prices=section.prices,
            providers=providers,
        )  # fmt: skip

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

    def _model(self, provider: str, model: str) -> ModelSeries:
        series = self._by_name.get((provider, model))
        return series if series is not None else self._model_slow(provider, model)

    def _model_slow(self, provider: str, model: str) -> ModelSeries:
        key = (provider, self.model_label(model))
        with self._lock:
            series = self._by_model.get(key) or model_series(self._f, *key, self._values)
            self._by_model[key] = series
            if len(self._by_name) < _NAMES_PER_LABEL * self._max_models:
                self._by_name[(provider, model)] = series
        return series

    def _provider(self, provider: str) -> ProviderSeries:
        series = self._by_provider.get(provider)
        if series is None:
            with self._lock:
                series = self._by_provider.get(provider) or provider_series(self._f, provider)
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
        if input_tokens < 0 or output_tokens < 0:
            not_negative(input_tokens, output_tokens)
        series = self._by_name.get((provider, model)) or self._model_slow(provider, model)
        hit = series.hits.get(cache) if saved_model == model else None
        if hit is not None:  # the hot path: six increments under one lock
            price = self._prices.get(model) if self._prices else None
            usd = 0.0 if price is None else _usd(price, input_tokens, output_tokens)
            hit(duration_s, input_tokens, output_tokens, usd)
            return usd
        observe = _pick(self._durations, cache, "cache")
        series.completions["ok"](1)
        observe(duration_s)
        if saved_model != model:
            series = self._model(provider, saved_model)
        return self._save(series, saved_model, input_tokens, output_tokens)

    def producer_answers(
        self, provider: str, model: str, saved_model: str, jobs: int,
        input_tokens: int, output_tokens: int,
    ) -> float:  # fmt: skip
        """``jobs`` jobs a producer answered from the cache: ``producer_hit`` lookups and the
        tokens (and USD) they saved for ``saved_model``; returns the USD. Not completions: this
        worker did not run them."""
        not_negative(jobs, input_tokens, output_tokens)
        self._lookups["producer_hit"](jobs)
        return self._save(self._model(provider, saved_model), saved_model, input_tokens,
                          output_tokens)  # fmt: skip

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
        self, series: ModelSeries, model: str, input_tokens: int, output_tokens: int
    ) -> float:
        series.saved[0](input_tokens)
        series.saved[1](output_tokens)
        price = self._prices.get(model)
        if price is None:
            return 0.0
        usd = _usd(price, input_tokens, output_tokens)
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

    def lease_valid(self, valid: bool) -> None:
        """Whether this process holds a lease on the fleet state now."""
        self._f.fleet_lease.set(1 if valid else 0)

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


def _usd(price: Price, input_tokens: int, output_tokens: int) -> float:
    return (input_tokens * price.input_per_million + output_tokens * price.output_per_million) / 1e6
