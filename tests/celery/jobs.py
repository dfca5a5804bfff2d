"""Helpers shared by the worker tests: unique requests and the stub's count of their calls."""

from __future__ import annotations

import uuid
from typing import Any

from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.testing.stub import request_digest


def request(prompt: str, **extra: Any) -> dict[str, Any]:
    """A request no other test sends (a random suffix), so caches start cold for it."""
    return {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"{prompt} {uuid.uuid4().hex}"}],
        **extra,
    }


def calls_for(fleet: LocalFleet, req: dict[str, Any]) -> int:
    """How many times the fleet's stub provider was called for ``req``."""
    assert fleet.stub is not None
    digest = request_digest(req["model"], req["messages"])
    return int(fleet.stub.calls()["by_digest"].get(digest, 0))
