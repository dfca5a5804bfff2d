"""StubControl: drive a stub provider running in another process, over HTTP."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from llmix_workers.testing.stub.faults import Fault


class StubControl:
    """The control endpoints of the stub at ``base_url``, as methods."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s

    def calls(self) -> dict[str, Any]:
        """``GET /_stub/calls``."""
        counts: dict[str, Any] = self._call("GET", "/_stub/calls")
        return counts

    def requests(self) -> list[dict[str, Any]]:
        """``GET /_stub/requests``: the last request bodies received."""
        recent: list[dict[str, Any]] = self._call("GET", "/_stub/requests")["requests"]
        return recent

    def trace(self) -> list[dict[str, Any]]:
        """``GET /_stub/trace``: every traced call (number, arrival time, client)."""
        calls: list[dict[str, Any]] = self._call("GET", "/_stub/trace")["calls"]
        return calls

    def reset(self) -> None:
        """``POST /_stub/reset``."""
        self._call("POST", "/_stub/reset", {})

    def script(
        self,
        *faults: int | str | Mapping[str, Any],
        fault_rate: float | None = None,
        rate_fault: int | str | Mapping[str, Any] | None = None,
        latency_ms: int | None = None,
        reject_keys: Iterable[str] | None = None,
        limits: tuple[int | None, int | None] | None = None,
    ) -> None:
        """``POST /_stub/script``: queue faults and change standing behaviour (``limits``:
        new requests- and tokens-per-minute limits)."""
        for spec in faults:
            Fault.parse(spec)
        body: dict[str, Any] = {"faults": list(faults)}
        extra = {"fault_rate": fault_rate, "rate_fault": rate_fault, "latency_ms": latency_ms}
        body.update((name, value) for name, value in extra.items() if value is not None)
        if reject_keys is not None:
            body["reject_keys"] = list(reject_keys)
        if limits is not None:
            body["rpm"], body["tpm"] = limits
        self._call("POST", "/_stub/script", body)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        with httpx.Client(timeout=self._timeout_s) as client:
            response = client.request(method, self.base_url + path, json=body)
        response.raise_for_status()
        return response.json()
