"""Every exception llmix_workers raises, rooted at :class:`LlmixError`."""

from __future__ import annotations


class LlmixError(Exception):
    """Base class for every error raised by llmix_workers."""


class ConfigError(LlmixError, ValueError):
    """Raised when a setting or argument has a value that is not allowed.

    It subclasses :class:`ValueError` so code written against the LLMix bindings, which raise
    ``ValueError`` for a bad cache strategy, keeps working.
    """


class CacheError(LlmixError):
    """Raised when the response cache cannot do what was asked of it."""


class L2Unavailable(CacheError):
    """Raised inside an L2 backend when Redis cannot be reached or answers too slowly.

    :class:`~llmix_workers.cache.tiered.TwoTierCache` turns it into a miss; it never reaches
    callers of ``get`` or ``set``. ``timed_out`` is true when Redis was reached but did not
    answer in time (a hung server), false when it refused or was unreachable.
    """

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class ClearFailed(CacheError):
    """Raised when a clear emptied L1 but could not delete the L2 keys; L2 reads stay blocked."""


class CacheKeyError(CacheError, ValueError):
    """Raised when a cache-key parameter cannot be put in canonical JSON (the message names it)."""


class LLMError(LlmixError):
    """Raised when a provider call fails; ``retryable`` tells a worker whether to try again.

    Attributes:
        retryable: a later attempt may succeed (408, 429, 5xx, network, circuit open).
        status: the provider's HTTP status, or ``None`` when no response arrived.
        retry_after_s: seconds to wait before the next attempt, when known (``Retry-After``, or
            the delay :class:`~llmix_workers.llm.resilient.ResilientClient` chose not to sleep).
        provider: the provider name, when known.
        provider_calls: calls that reached the provider in the attempt that raised this (set by
            :class:`~llmix_workers.llm.resilient.ResilientClient`; 0 when every try was refused
            locally, by an open circuit breaker or a full concurrency window).

    Messages never contain an API key.
    """

    retryable: bool = False
    provider_calls: int = 0

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s
        self.provider = provider


class RateLimited(LLMError):
    """Raised when the provider answers 429, the local concurrency window stays full, or the
    fleet-wide budget would make a call wait longer than allowed."""

    retryable = True


class BudgetExhausted(RateLimited):
    """Raised when a fleet-wide budget has no turn for a call within the wait allowed: no
    provider call was made (counted as a budget refusal, not as a provider error)."""


class ProviderTimeout(LLMError):
    """Raised when the provider does not answer within the timeout, or answers 408."""

    retryable = True


class ProviderUnavailable(LLMError):
    """Raised on a 5xx, a network error, a broken response body, or an open circuit."""

    retryable = True


class CircuitOpen(ProviderUnavailable):
    """Raised without calling the provider while its circuit breaker is open."""


class BadRequest(LLMError):
    """Raised when the provider rejects the request with a 4xx other than 401/403/408/429."""


class InvalidRequest(BadRequest, ValueError):
    """Raised when a request fails validation before any call; the message names the field."""


class AuthError(LLMError):
    """Raised on 401/403 once every key of the pool is set aside (for ``llm.key_cooloff_s``,
    by the endpoint that rejected it), or when no key is configured."""
