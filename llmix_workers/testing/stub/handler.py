"""The stub's request handling, in one place: provider APIs, control endpoints, faults.

:meth:`StubHandler.respond` takes one parsed HTTP request and returns the :class:`Reply` to
send; the connection layer (:mod:`~llmix_workers.testing.stub.connection`) only parses and
writes. Every provider request is counted and given its fate by
:class:`~llmix_workers.testing.stub.state.StubState` before any waiting starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from llmix_workers.testing.stub.answers import (
    ANTHROPIC,
    OPENAI,
    answer,
    charged_tokens,
    conversation,
    error_body,
    request_digest,
    text_of,
)
from llmix_workers.testing.stub.faults import MALFORMED, RESET, SLOW, STATUS, TRUNCATED, Fault
from llmix_workers.testing.stub.state import Received, StubState

API_PATHS = {
    "/v1/chat/completions": OPENAI,
    "/chat/completions": OPENAI,
    "/v1/messages": ANTHROPIC,
}
STATUS_MESSAGES = {
    400: "Invalid request (stub): the prompt asked for a 400.",
    408: "Request timed out (stub).",
    429: "Rate limit reached (stub). Please try again later.",
    500: "The server had an error while processing your request (stub).",
    502: "Bad gateway (stub).",
    503: "The engine is currently overloaded (stub).",
}
#: How a reply ends: kept alive, body cut in half then closed, or the connection reset (RST).
KEEP: Final = "keep"
CUT: Final = "cut"
ABORT: Final = "abort"


@dataclass(frozen=True, slots=True)
class StubRequest:
    """One HTTP request: method, path (no query), lower-case header names, the whole body,
    and the client's address."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    client: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """What to send back. ``end`` is :data:`KEEP`, :data:`CUT` or :data:`ABORT`."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    end: str = KEEP


def json_reply(status: int, data: Any, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, orjson.dumps(data), headers or {})


class StubHandler:
    """Answers requests from ``state``. A latency is an ``asyncio.sleep``: stopping the stub
    cancels it, and the connection layer then resets the connection, as a provider going away
    would."""

    def __init__(self, state: StubState) -> None:
        self.state = state

    async def respond(self, request: StubRequest) -> Reply:
        """The reply to ``request``."""
        if request.method == "GET":
            return self._get(request.path)
        if request.method != "POST":
            return json_reply(405, {"error": {"message": f"{request.method} is not allowed"}})
        try:
            body: Any = orjson.loads(request.body) if request.body else {}
        except orjson.JSONDecodeError:
            return json_reply(400, {"error": {"message": "request body is not valid JSON"}})
        if request.path == "/_stub/reset":
            self.state.reset()
            return json_reply(200, {"ok": True})
        if request.path == "/_stub/script":
            return self._script(body)
        if request.path in API_PATHS and isinstance(body, dict):
            return await self._provider(API_PATHS[request.path], request, body)
        if request.path in API_PATHS:
            return json_reply(400, {"error": {"message": "request body must be a JSON object"}})
        return json_reply(404, {"error": {"message": f"no such path {request.path}"}})

    def _get(self, path: str) -> Reply:
        if path == "/_stub/calls":
            return json_reply(200, self.state.calls())
        if path == "/_stub/requests":
            return json_reply(200, {"requests": self.state.recent()})
        if path == "/_stub/trace":
            return json_reply(200, {"calls": self.state.trace()})
        if path in ("/", "/_stub/health"):
            return json_reply(200, {"ok": True})
        return json_reply(404, {"error": {"message": f"no such path {path}"}})

    def _script(self, body: Any) -> Reply:
        try:
            faults = [Fault.parse(spec) for spec in body.get("faults", [])]
            rate = body.get("fault_rate")
            rate_fault = body.get("rate_fault")
            self.state.script(
                faults,
                fault_rate=None if rate is None else float(rate),
                rate_fault=None if rate_fault is None else Fault.parse(rate_fault),
                latency_ms=body.get("latency_ms"),
                reject_keys=body.get("reject_keys"),
                limits=(body.get("rpm"), body.get("tpm"))
                if "rpm" in body or "tpm" in body
                else None,
            )
        except (ValueError, TypeError, AttributeError) as exc:
            return json_reply(400, {"error": {"message": f"bad script: {exc}"}})
        return json_reply(200, {"ok": True, "queued": len(faults)})

    async def _provider(self, api: str, request: StubRequest, body: dict[str, Any]) -> Reply:
        messages = conversation(api, body)
        model = str(body.get("model", ""))
        received = Received(
            path=request.path,
            digest=request_digest(model, messages),
            model=model,
            key=_key(api, request.headers),
            prompt=text_of(messages),
            body=body,
            client=request.client,
            tokens=charged_tokens(api, body) if self.state.limited else 0,
        )
        fault, latency_ms, call = self.state.receive(received)
        delay_ms = latency_ms + (fault.delay_ms if fault.kind == SLOW else 0)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        if fault.kind == RESET:
            return Reply(0, end=ABORT)
        if fault.kind == STATUS:
            message = fault.message or STATUS_MESSAGES.get(
                fault.status, f"Stub error {fault.status}."
            )
            headers = dict(fault.headers)
            if fault.retry_after is not None:
                headers["retry-after"] = fault.retry_after
            return json_reply(fault.status, error_body(api, fault.status, message), headers)
        if fault.kind == MALFORMED:
            return Reply(200, b'{"id": "stub-malformed", "choices": [{"message": ')
        data = orjson.dumps(answer(api, body, call))
        return Reply(200, data, dict(fault.headers), CUT if fault.kind == TRUNCATED else KEEP)


def _key(api: str, headers: Mapping[str, str]) -> str | None:
    if api == ANTHROPIC:
        return headers.get("x-api-key")
    auth = headers.get("authorization") or ""
    return auth.removeprefix("Bearer ").strip() or None
