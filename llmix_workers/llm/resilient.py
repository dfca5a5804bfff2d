"""ResilientClient: the LLMix resilience rules around any LLMClient.

Per call: circuit breaker of (provider, base URL) → adaptive concurrency slot of the provider →
the fleet-wide budget, when one is injected (docs/guides/budgets.md) → the inner client →
feedback to breaker, limiter and budget → retry with backoff, as the design page of the
documentation says (docs/explanations/design.md, "Provider calls and resilience").
"""

from __future__ import annotations

import logging
import random as _random
import threading
import time
from collections.abc import Callable
from typing import Protocol

from llmix_workers.errors import BudgetExhausted, LLMError, RateLimited
from llmix_workers.llm.aimd import AdaptiveLimiter, parse_ratelimit_headers
from llmix_workers.llm.breaker import CircuitBreaker
from llmix_workers.llm.budgets import BudgetTicket, CallBudgets, estimate_tokens, spent_for_s
from llmix_workers.llm.client import LLMClient
from llmix_workers.llm.request import LLMRequest, LLMResult
from llmix_workers.llm.retry import RetryPolicy
from llmix_workers.settings import LLMSettings
from llmix_workers.settings.sizing import window_ceiling

logger = logging.getLogger(__name__)


class ResilienceObserver(Protocol):
    """Told what the resilience rules did (the telemetry layer counts it); must not raise."""

    def attempt_failed(self, provider: str, error: LLMError) -> None:
        """One attempt ended with ``error`` (before any retry decision)."""
        ...

    def retrying(self, provider: str) -> None:
        """A failed attempt is retried here after a backoff."""
        ...

    def breaker_moved(self, provider: str, state: str) -> None:
        """The endpoint's breaker is now ``CLOSED``, ``HALF_OPEN`` or ``OPEN``."""
        ...


class ResilientClient:
    """Retries, circuit breakers and AIMD concurrency around ``inner``. Thread-safe.

    Breakers are keyed by (provider, ``baseUrl`` or ``""`` for the provider's configured URL),
    limiters by provider; both live as long as this object, so build one per process.
    ``clock`` (monotonic seconds), ``sleep`` and ``random`` (uniform in [0, 1)) are injected so
    tests need no real time.

    ``complete`` raises the last :class:`LLMError` once a call cannot succeed here: a final one
    (``retryable`` False) at once; a retryable one when attempts run out, the breaker is open,
    or the next wait would exceed ``policy.max_inline_wait_s``. A retryable error leaves with
    ``retry_after_s`` set to the wait it asks for, so a task can re-queue itself with it.

    ``budgets`` (fleet-wide, see :class:`~llmix_workers.llm.budgets.CallBudgets`) is drawn from
    after the concurrency slot and before each call, with an estimate of
    ``budget_output_tokens`` for a request without ``maxOutputTokens``; a draw that would wait
    past what is left of ``policy.max_inline_wait_s`` is refused like a full window (no
    provider call, so the re-queue spends nothing).
    """

    def __init__(
        self,
        inner: LLMClient,
        *,
        policy: RetryPolicy,
        breaker_failure_threshold: int,
        breaker_cooldown_s: float,
        concurrency_initial: int,
        concurrency_min: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        observer: ResilienceObserver | None = None,
        budgets: CallBudgets | None = None,
        budget_output_tokens: int | None = None,
    ) -> None:
        if budgets is not None and budget_output_tokens is None:
            raise ValueError("budgets need budget_output_tokens (llm.budget_output_tokens)")
        self.inner = inner
        self.budgets = budgets
        self._budget_output_tokens = budget_output_tokens or 0
        self.observer = observer
        self.policy = policy
        self._breaker_args = (breaker_failure_threshold, breaker_cooldown_s)
        self._limiter_args = (concurrency_initial, concurrency_min)
        self._clock, self._sleep, self._random = clock, sleep, random
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._limiters: dict[str, AdaptiveLimiter] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        inner: LLMClient,
        settings: LLMSettings,
        *,
        budgets: CallBudgets | None = None,
        **seams: object,
    ) -> ResilientClient:
        """A client configured by the ``[llm]`` settings; ``seams`` are clock/sleep/random,
        ``budgets`` the fleet's (built by the wiring from ``llm.budgets``). An unset
        ``concurrency_initial`` follows the default worker section (see
        :func:`~llmix_workers.settings.sizing.window_ceiling`)."""
        policy = RetryPolicy(
            max_attempts=settings.max_attempts,
            max_inline_wait_s=settings.max_inline_wait_s,
            retry_after_cap_s=settings.retry_after_cap_s,
        )
        return cls(
            inner,
            policy=policy,
            breaker_failure_threshold=settings.breaker_failure_threshold,
            breaker_cooldown_s=settings.breaker_cooldown_s,
            concurrency_initial=window_ceiling(settings),
            concurrency_min=settings.concurrency_min,
            budgets=budgets,
            budget_output_tokens=settings.budget_output_tokens,
            **seams,  # type: ignore[arg-type]
        )

    def breaker(self, provider: str, base_url: str | None = None) -> CircuitBreaker:
        """The breaker of one endpoint (created closed on first use)."""
        key = (provider, base_url or "")
        with self._lock:
            if key not in self._breakers:
                threshold, cooldown = self._breaker_args
                self._breakers[key] = CircuitBreaker(
                    provider,
                    key[1],
                    failure_threshold=threshold,
                    cooldown_s=cooldown,
                    clock=self._clock,
                )
            return self._breakers[key]

    def limiter(self, provider: str) -> AdaptiveLimiter:
        """The concurrency limiter of one provider (created at its initial window)."""
        with self._lock:
            if provider not in self._limiters:
                self._limiters[provider] = AdaptiveLimiter(*self._limiter_args)
            return self._limiters[provider]

    def complete(self, request: LLMRequest) -> LLMResult:
        """Call the provider under the resilience rules; see the class docstring for errors."""
        breaker = self.breaker(request.provider, request.base_url)
        limiter = self.limiter(request.provider)
        attempt = 0
        calls = [0]
        while True:
            try:
                return self._attempt(request, breaker, limiter, calls)
            except LLMError as exc:
                exc.provider_calls = calls[0]
                if not isinstance(exc, BudgetExhausted):  # the provider said nothing
                    self._observe(request.provider, breaker, exc)
                if not exc.retryable:
                    raise
                delay = self.policy.delay_s(attempt, exc.retry_after_s, self._random)
                delay = max(delay, breaker.blocked_for_s())
                attempt += 1
                if attempt >= self.policy.max_attempts or delay > self.policy.max_inline_wait_s:
                    exc.retry_after_s = delay
                    raise
                logger.warning(
                    "%s call failed (%s, attempt %d of %d); retrying in %.2f s",
                    request.provider,
                    exc,
                    attempt,
                    self.policy.max_attempts,
                    delay,
                )
                if self.observer is not None:
                    self.observer.retrying(request.provider)
                self._sleep(delay)

    def _observe(self, provider: str, breaker: CircuitBreaker, error: LLMError | None) -> None:
        if self.observer is None:
            return
        if error is not None:
            self.observer.attempt_failed(provider, error)
        self.observer.breaker_moved(provider, breaker.state.value)

    def _attempt(
        self,
        request: LLMRequest,
        breaker: CircuitBreaker,
        limiter: AdaptiveLimiter,
        calls: list[int],
    ) -> LLMResult:
        """One try; ``calls[0]`` counts the tries that got past the breaker, the window and the
        budget."""
        breaker.check()
        started = self._clock()
        if not limiter.acquire(self.policy.max_inline_wait_s):
            breaker.release_probe()
            raise RateLimited(
                f"{request.provider}: all {limiter.window} concurrency slots stayed busy",
                provider=request.provider,
            )
        try:
            ticket = self._draw(request, self.policy.max_inline_wait_s - (self._clock() - started))
        except BaseException:
            limiter.release()
            breaker.release_probe()
            raise
        calls[0] += 1
        try:
            result = self.inner.complete(request)
        except LLMError as exc:
            local = exc.status is None and not exc.retryable
            if local:  # refused before reaching the provider: says nothing of the endpoint
                breaker.release_probe()
            else:
                breaker.on_failure(exc.status, network_error=exc.status is None)
            if exc.status == 429:
                limiter.on_rate_limit()
                if ticket is not None:
                    ticket.shrink(exc.retry_after_s)
            raise
        except BaseException:
            breaker.release_probe()
            raise
        finally:
            limiter.release()
        breaker.on_success()
        if ticket is not None:
            ticket.settle(result.usage.input_tokens + result.usage.output_tokens)
            spent_s = spent_for_s(result.headers)
            if spent_s:
                ticket.hold(spent_s)
        self._observe(request.provider, breaker, None)
        info = parse_ratelimit_headers(result.headers)
        if info is None:
            limiter.on_success()
        else:
            limiter.on_headers(info)
        return result

    def _draw(self, request: LLMRequest, max_wait_s: float) -> BudgetTicket | None:
        """Draw from the call's budget and wait its turn.

        Raises:
            BudgetExhausted: the turn is further away than ``max_wait_s``; ``retry_after_s``
                says how far.
        """
        if self.budgets is None:
            return None
        tokens = estimate_tokens(request, self._budget_output_tokens)
        ticket = self.budgets.draw(request.provider, request.model, tokens, max(0.0, max_wait_s))
        if not ticket.granted:
            raise BudgetExhausted(
                f"{request.provider}: the fleet budget has no room for {ticket.wait_s:.2f} s",
                provider=request.provider,
                retry_after_s=ticket.wait_s,
            )
        if ticket.wait_s > 0:
            self._sleep(ticket.wait_s)
        return ticket

    def close(self) -> None:
        """Close the inner client."""
        self.inner.close()
