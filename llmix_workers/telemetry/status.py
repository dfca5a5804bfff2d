"""``status_class``: a provider error or HTTP status as the ``status_class`` metric label."""

from __future__ import annotations

import httpx

from llmix_workers.errors import (
    AuthError,
    BadRequest,
    CircuitOpen,
    LLMError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)


def status_class(error: BaseException | int) -> str:
    """One of ``4xx``, ``429``, ``5xx``, ``timeout``, ``network``, ``circuit_open``.

    ``error`` is an :class:`~llmix_workers.errors.LLMError`, an httpx/OS transport error, or an
    HTTP status code (400–599). ``ProviderUnavailable`` with a status (a 5xx or a broken body)
    is ``5xx``; without one, ``network``. ``BadRequest`` / ``AuthError`` (also the validation
    error raised before any call) are ``4xx``; another ``LLMError`` goes by its status, else
    ``network``.

    Raises:
        ValueError: for a status outside 400–599.
        TypeError: for an exception that is neither a provider, transport nor OS error.
    """
    if isinstance(error, bool) or not isinstance(error, BaseException | int):
        raise TypeError(f"status_class takes an exception or an HTTP status, not {error!r}")
    if isinstance(error, int):
        return _from_status(error)
    if isinstance(error, CircuitOpen):
        return "circuit_open"
    if isinstance(error, RateLimited):
        return "429"
    if isinstance(error, ProviderTimeout | httpx.TimeoutException | TimeoutError):
        return "timeout"
    if isinstance(error, ProviderUnavailable):
        return "5xx" if error.status is not None else "network"
    if isinstance(error, LLMError):
        if error.status is not None and 400 <= error.status < 600:
            return _from_status(error.status)
        return "4xx" if isinstance(error, BadRequest | AuthError) else "network"
    if isinstance(error, httpx.TransportError | OSError):
        return "network"
    raise TypeError(f"status_class: {type(error).__name__} is not a provider error")


def _from_status(status: int) -> str:
    if status == 429:
        return "429"
    if status == 408:
        return "timeout"
    if 400 <= status < 500:
        return "4xx"
    if 500 <= status < 600:
        return "5xx"
    raise ValueError(f"status_class: HTTP {status} is not an error status")
