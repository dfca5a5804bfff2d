"""Faults the stub provider can play instead of (or on the way to) a normal answer.

A fault is given as a status code (``429``), a name (``"reset"``), ``"slow=2000"``
(milliseconds), ``"429=7"`` (a status with its ``Retry-After``), or a mapping with the fields
of :class:`Fault`. Prompts carry the same specs as markers: ``[[stub:503]]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Answer normally (possibly with extra ``headers``).
OK = "ok"
#: Answer with ``status`` and an error body in the API's format.
STATUS = "status"
#: Wait ``delay_ms``, then answer normally: past a short client timeout.
SLOW = "slow"
#: Promise the full body in Content-Length, send half, close the connection.
TRUNCATED = "truncated"
#: A complete 200 response whose body is not valid JSON.
MALFORMED = "malformed"
#: Reset the TCP connection (RST) without answering.
RESET = "reset"
KINDS = frozenset({OK, STATUS, SLOW, TRUNCATED, MALFORMED, RESET})

#: Markers that change the answer, not its success: a thinking block, a tool call.
THINK_MARKER = "[[stub:think]]"
TOOL_MARKER = "[[stub:tool]]"
MARKER = re.compile(r"\[\[stub:([a-z0-9]+(?:=[0-9.]+)?)\]\]")


@dataclass(frozen=True)
class Fault:
    """One scripted behaviour. ``retry_after`` and ``headers`` are sent verbatim."""

    kind: str = OK
    status: int = 200
    retry_after: str | None = None
    message: str | None = None
    delay_ms: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: Fault | int | str | Mapping[str, Any]) -> Fault:
        """A fault from any of the forms in the module docstring.

        Raises:
            ValueError: the spec names no known fault.
        """
        if isinstance(spec, Fault):
            return spec
        if isinstance(spec, int):
            return cls.from_text(str(spec))
        if isinstance(spec, str):
            return cls.from_text(spec)
        data = dict(spec)
        if "status" in data and data.get("kind", STATUS) == STATUS:
            status = int(data["status"])
            fault = cls._status(status, data.get("retry_after", "1" if status == 429 else None))
            return cls(
                fault.kind,
                fault.status,
                fault.retry_after,
                data.get("message"),
                0,
                {**fault.headers, **data.get("headers", {})},
            )
        kind = str(data.get("kind", OK))
        if kind not in KINDS - {STATUS}:
            raise ValueError(f"unknown stub fault kind {kind!r}")
        return cls(
            kind, 200, None, None, int(data.get("delay_ms", 0)), dict(data.get("headers", {}))
        )

    @classmethod
    def from_text(cls, text: str) -> Fault:
        """A fault from its text form: ``"503"``, ``"429=7"``, ``"slow=2000"``, ``"reset"``."""
        name, _, value = text.strip().partition("=")
        if name.isdigit():
            return cls._status(int(name), value or ("1" if name == "429" else None))
        if name == SLOW:
            return cls(SLOW, delay_ms=int(float(value or "5000")))
        if name in KINDS - {STATUS}:
            return cls(name)
        raise ValueError(f"unknown stub fault {text!r}")

    @classmethod
    def _status(cls, status: int, retry_after: Any) -> Fault:
        if not 200 <= status <= 599:
            raise ValueError(f"stub fault status must be 200-599 (got {status})")
        if status < 300:
            return cls(OK)
        headers: dict[str, str] = {}
        if status == 429:
            headers = {
                "x-ratelimit-limit-requests": "500",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "1s",
            }
        after = None if retry_after is None else str(retry_after)
        return cls(STATUS, status, after, None, 0, headers)


def prompt_faults(text: str) -> list[Fault]:
    """Faults named by ``[[stub:…]]`` markers in ``text`` (think/tool markers excluded)."""
    faults = []
    for spec in MARKER.findall(text):
        if spec not in ("think", "tool"):
            try:
                faults.append(Fault.from_text(spec))
            except ValueError:
                continue
    return faults
