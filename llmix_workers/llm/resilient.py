"""ResilientClient: the LLMix resilience rules around any LLMClient.

Per call: circuit breaker of (provider, base URL) → adaptive concurrency slot of the provider →
the inner client → feedback to breaker and limiter → retry with backoff, as the design page of
the documentation says (docs/explanations/design.md, "Provider calls and resilience").
"""

from __future__ import annotations

import logging
import random as _random
import threading
import time
from collections.abc import Callable
from typing import Protocol

from llmix_workers.errors import LLMError, RateLimited
from llmix_workers.llm.aimd import AdaptiveLimiter, parse_ratelimit_headers
from llmix_workers.llm.breaker import CircuitBreaker
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
    ) -> None:
        self.inner = inner
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
        cls, inner: LLMClient, settings: LLMSettings, **seams: object
    ) -> ResilientClient:
        """A client configured by the ``[llm]`` settings; ``seams`` are clock/sleep/random. An
        unset ``concurrency_initial`` follows the default worker section (see
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
        """One try; ``calls[0]`` counts the tries that got past the breaker and the window."""
        breaker.check()
        if not limiter.acquire(self.policy.max_inline_wait_s):
            breaker.release_probe()
            raise RateLimited(
                f"{request.provider}: all {limiter.window} concurrency slots stayed busy",
                provider=request.provider,
            )
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
            raise
        except BaseException:
            breaker.release_probe()
            raise
        finally:
            limiter.release()
        breaker.on_success()
        self._observe(request.provider, breaker, None)
        info = parse_ratelimit_headers(result.headers)
        if info is None:
            limiter.on_success()
        else:
            limiter.on_headers(info)
        return result

    def close(self) -> None:
        """Close the inner client."""
        self.inner.close()
