"""CallBudgets: the seam through which fleet-wide budgets reach the provider-call path.

The llm layer knows nothing of Redis: the worker's wiring injects an implementation
(:class:`~llmix_workers.fleet.budget.RedisBudgets`); without one, calls draw from no budget.
Tokens are estimated before a call (:func:`estimate_tokens`) and settled from the usage the
provider reports after it.
"""

from __future__ import annotations

import math
from typing import Any, Final, Protocol

from llmix_workers.llm.request import LLMRequest

#: Characters per token assumed for the input estimate (English text with OpenAI's tokenizers
#: averages about four).
CHARS_PER_TOKEN: Final = 4


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


def _chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(_chars(part.get("text")) for part in content if isinstance(part, dict))
    return 0
