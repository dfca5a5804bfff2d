"""HTTPProvider: the request/response loop shared by every provider spoken over HTTP.

A subclass says where to send the request, what body and headers to send, and how to read the
answer; this class sends it through the process's shared :class:`~llmix_workers.llm.http.
HTTPPool`, picks and retires keys, and turns every failure into a typed
:class:`~llmix_workers.errors.LLMError`. It never retries a retryable error itself: that is
:class:`~llmix_workers.llm.resilient.ResilientClient`'s job.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from llmix_workers.errors import AuthError, InvalidRequest
from llmix_workers.llm.http import TransportError
from llmix_workers.llm.providers.context import ProviderContext
from llmix_workers.llm.providers.http_errors import (
    error_for_response,
    error_for_transport,
    malformed,
)
from llmix_workers.llm.request import LLMRequest, LLMResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    """A provider's defaults: base URL, and whether it refuses calls without a key."""

    base_url: str
    key_required: bool = True


class HTTPProvider(ABC):
    """One provider over HTTP. Thread-safe: no state of its own beyond the key pool."""

    def __init__(self, context: ProviderContext) -> None:
        self.context = context
        self.name = context.name
        self.defaults = self.endpoint_defaults(context.name)
        if self.defaults.key_required and context.keys is None:
            env = f"{context.key_env} or " if context.key_env else ""
            raise AuthError(
                f"no API key for {self.name}: set {env}LLMIX_LLM__API_KEYS__{self.name.upper()}"
                " where the workers run",
                provider=self.name,
            )

    @classmethod
    @abstractmethod
    def endpoint_defaults(cls, name: str) -> Endpoint:
        """The defaults for provider ``name``."""

    @abstractmethod
    def url(self, base_url: str) -> str:
        """The URL to POST to, given the base URL (no trailing slash)."""

    @abstractmethod
    def body(self, request: LLMRequest) -> dict[str, Any]:
        """The JSON body for ``request``."""

    @abstractmethod
    def headers(self, key: str | None) -> dict[str, str]:
        """Request headers, carrying ``key`` when there is one."""

    @abstractmethod
    def parse(self, request: LLMRequest, data: Any, headers: dict[str, str]) -> LLMResult:
        """The result read from a 2xx JSON body.

        Raises:
            ProviderUnavailable: the body is not what the API promises.
        """

    def base_url(self, request: LLMRequest) -> str:
        """The request's ``baseUrl``, else the configured one, else the provider default."""
        chosen = request.base_url or self.context.base_url or self.defaults.base_url
        if not chosen:
            raise InvalidRequest(
                f"{self.name} has no base URL: set baseUrl or llm.base_urls.{self.name}",
                provider=self.name,
            )
        return chosen.rstrip("/")

    def complete(self, request: LLMRequest) -> LLMResult:
        """One call; a 401/403 sets the key aside for this endpoint (the provider's own, or the
        request's ``baseUrl``) and tries the next usable one at once."""
        base_url = self.base_url(request)
        url = self.url(base_url)
        scope = "" if base_url == self._own_base_url() else base_url
        payload = orjson.dumps(self.body(request))
        while True:
            keys = self.context.keys
            key = keys.select(scope) if keys is not None else None
            try:
                response = self.context.http.post(url, content=payload, headers=self.headers(key))
            except TransportError as exc:
                raise error_for_transport(self.name, exc, self.redact) from exc
            status = response.status_code
            if status in (401, 403) and keys is not None and key is not None:
                keys.retire(key, scope)
                usable = keys.health(scope)["usable"]
                logger.warning("%s rejected a key (%d)%s; %s usable", self.name, status,
                               " at a request's own baseUrl" if scope else "", usable)  # fmt: skip
                if usable:
                    continue
            if status == 429 and keys is not None and key is not None:
                keys.rotate(key)
            if status >= 400:
                raise error_for_response(
                    self.name, response, self.redact, self.context.wall_clock()
                )
            try:
                data = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                raise malformed(
                    self.name, f"invalid JSON ({len(response.content)} bytes)"
                ) from None
            try:
                return self.parse(request, data, dict(response.headers))
            except (ValidationError, TypeError, AttributeError, KeyError) as exc:
                raise malformed(self.name, type(exc).__name__) from None

    def _own_base_url(self) -> str:
        return (self.context.base_url or self.defaults.base_url or "").rstrip("/")

    def redact(self, text: str) -> str:
        """``text`` with every key of this provider scrubbed out."""
        return self.context.keys.redact(text) if self.context.keys is not None else text

    def close(self) -> None:  # noqa: B027 (a no-op on purpose; subclasses may add to it)
        """Nothing to release: the HTTP pool belongs to the router that built this provider."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, keys={self.context.keys!r})"
