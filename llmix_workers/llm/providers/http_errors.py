"""HTTP outcomes → the typed errors of :mod:`llmix_workers.errors`.

408 → ProviderTimeout, 429 → RateLimited, 5xx → ProviderUnavailable, 401/403 → AuthError, any
other 4xx → BadRequest carrying the provider's message. Timeouts → ProviderTimeout, other
transport failures → ProviderUnavailable. Every message goes through ``redact`` first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from urllib3.exceptions import EmptyPoolError, LocationValueError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from llmix_workers.errors import (
    AuthError,
    BadRequest,
    LLMError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from llmix_workers.llm.http import HTTPResponse, TransportError
from llmix_workers.llm.retry import parse_retry_after

Redact = Callable[[str], str]
MAX_MESSAGE_CHARS = 500


def error_for_response(
    provider: str, response: HTTPResponse, redact: Redact, now: float
) -> LLMError:
    """The error for a response whose status is 400 or above; ``now`` is wall-clock seconds."""
    status = response.status_code
    message = f"{provider} answered {status}: {provider_message(response, redact)}"
    retry_after_s = parse_retry_after(response.headers.get("retry-after"), now)
    kind: type[LLMError]
    if status == 408:
        kind = ProviderTimeout
    elif status == 429:
        kind = RateLimited
    elif status >= 500:
        kind = ProviderUnavailable
    elif status in (401, 403):
        kind, retry_after_s = AuthError, None
    else:
        kind, retry_after_s = BadRequest, None
    return kind(message, status=status, retry_after_s=retry_after_s, provider=provider)


def error_for_transport(provider: str, exc: TransportError, redact: Redact) -> LLMError:
    """The error for a request that got no usable response (a refused connection is checked
    before timeouts: urllib3 makes it a kind of connect timeout)."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, LocationValueError):
        return BadRequest(redact(f"{provider}: bad base URL: {detail}"), provider=provider)
    if isinstance(exc, Urllib3Timeout | EmptyPoolError) and not isinstance(exc, NewConnectionError):
        message = f"{provider} did not answer in time ({type(exc).__name__}: {detail})"
        return ProviderTimeout(redact(message), provider=provider)
    message = f"{provider} could not be reached ({type(exc).__name__}: {detail})"
    return ProviderUnavailable(redact(message), provider=provider)


def malformed(provider: str, what: str) -> ProviderUnavailable:
    """The error for a 2xx response whose body is not what the API promises."""
    return ProviderUnavailable(f"{provider} sent a malformed response: {what}", provider=provider)


def provider_message(response: HTTPResponse, redact: Redact) -> str:
    """The provider's own error message (``error.message`` in OpenAI and Anthropic bodies)."""
    text = redact(response.text)
    try:
        data: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = error["message"]
        elif isinstance(error, str):
            text = error
        elif isinstance(data.get("message"), str):
            text = data["message"]
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "…"
    return text or response.reason_phrase or "no message"
