"""CallBudgets: the seam through which fleet-wide budgets reach the provider-call path.

The llm layer knows nothing of Redis: the worker's wiring injects an implementation
(:class:`~llmix_workers.fleet.budget.RedisBudgets`); without one, calls draw from no budget.
Tokens are estimated before a call (:func:`estimate_tokens`) and settled from the usage the
provider reports after it; a success whose ``x-ratelimit-*`` headers say nothing is left holds
the budget until the reset they name (:func:`spent_for_s`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final, Protocol

from llmix_workers.llm.request import LLMRequest

#: Characters per token assumed for the input estimate (English text with OpenAI's tokenizers
#: averages about four).
CHARS_PER_TOKEN: Final = 4
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_S: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class BudgetTicket(Protocol):
    """One call's draw from its budget."""

    @property
    def granted(self) -> bool:
        """False: the call would have waited longer than allowed; it must not be made."""
        ...

    @property
    def wait_s(self) -> float:
        """Seconds to wait before calling (granted), or the wait it would have needed."""
        ...

    def settle(self, used_tokens: int) -> None:
        """The provider reported ``used_tokens`` (input + output) for the call."""
        ...

    def shrink(self, retry_after_s: float | None) -> None:
        """The provider answered the call 429."""
        ...

    def hold(self, seconds: float) -> None:
        """The provider's rate-limit headers say nothing is left for ``seconds``."""
        ...


class CallBudgets(Protocol):
    """Fleet-wide budgets; thread-safe; never raises for its own storage."""

    def draw(self, provider: str, model: str, tokens: int, max_wait_s: float) -> BudgetTicket:
        """Reserve one call of about ``tokens``, waiting at most ``max_wait_s`` for its turn."""
        ...


def estimate_tokens(request: LLMRequest, default_output_tokens: int) -> int:
    """Input + output tokens ``request`` may use: its text at :data:`CHARS_PER_TOKEN`, plus its
    ``maxOutputTokens`` or ``default_output_tokens``."""
    chars = sum(_chars(message.get("content")) for message in request.messages)
    output = request.max_output_tokens or default_output_tokens
    return math.ceil(chars / CHARS_PER_TOKEN) + output


def spent_for_s(headers: Mapping[str, str]) -> float | None:
    """Seconds until the provider's limit resets when its OpenAI ``x-ratelimit-*`` headers
    (lower-case names) say no requests or no tokens are left, else ``None``."""
    waits = []
    for kind in ("requests", "tokens"):
        if headers.get(f"x-ratelimit-remaining-{kind}", "").strip() == "0":
            waits.append(parse_duration_s(headers.get(f"x-ratelimit-reset-{kind}", "")) or 0.0)
    return max(waits) if waits else None


def parse_duration_s(text: str) -> float | None:
    """Seconds in an OpenAI reset duration (``"1s"``, ``"6m0s"``, ``"59ms"``, ``"0.5s"``), or
    ``None`` when it is not one."""
    text = text.strip()
    parts = _DURATION_PART.findall(text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _UNIT_S[unit] for number, unit in parts)


def _chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(_chars(part.get("text")) for part in content if isinstance(part, dict))
    return 0
