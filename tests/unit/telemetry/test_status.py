from __future__ import annotations

import httpx
import pytest

from llmix_workers.errors import (
    AuthError,
    BadRequest,
    CircuitOpen,
    InvalidRequest,
    LLMError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from llmix_workers.telemetry.metrics import status_class


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (CircuitOpen("open"), "circuit_open"),
        (RateLimited("slow down", status=429), "429"),
        (RateLimited("local window full"), "429"),
        (ProviderTimeout("timed out"), "timeout"),
        (ProviderTimeout("408", status=408), "timeout"),
        (ProviderUnavailable("503", status=503), "5xx"),
        (ProviderUnavailable("broken body", status=200), "5xx"),
        (ProviderUnavailable("connection refused"), "network"),
        (BadRequest("bad", status=422), "4xx"),
        (AuthError("no key configured"), "4xx"),
        (AuthError("forbidden", status=403), "4xx"),
        (InvalidRequest("messages: required"), "4xx"),
        (LLMError("other", status=502), "5xx"),
        (LLMError("other"), "network"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "network"),
        (TimeoutError(), "timeout"),
        (ConnectionResetError(), "network"),
        (429, "429"),
        (408, "timeout"),
        (404, "4xx"),
        (500, "5xx"),
        (599, "5xx"),
    ],
)
def test_status_class(error: BaseException | int, expected: str) -> None:
    assert status_class(error) == expected


@pytest.mark.parametrize("status", [200, 302, 600, 0])
def test_non_error_status_is_refused(status: int) -> None:
    with pytest.raises(ValueError, match=str(status)):
        status_class(status)


@pytest.mark.parametrize("error", [KeyError("x"), True, "500"])
def test_non_provider_error_is_refused(error: object) -> None:
    with pytest.raises(TypeError):
        status_class(error)  # type: ignore[arg-type]
