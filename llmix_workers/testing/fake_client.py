"""FakeClient: a scripted, in-process LLMClient for unit tests (no network)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable

from llmix_workers.errors import LLMError
from llmix_workers.llm.request import LLMRequest, LLMResult, Usage

Outcome = LLMResult | LLMError | str


def echo(request: LLMRequest) -> LLMResult:
    """The default answer: names the model and repeats the last message's text."""
    last = request.messages[-1].get("content")
    text = last if isinstance(last, str) else "…"
    return LLMResult(
        content=f"fake answer from {request.model}: {text}",
        model=request.model,
        provider=request.provider,
        usage=Usage(
            input_tokens=len(text.split()), output_tokens=5, total_tokens=len(text.split()) + 5
        ),
        finish_reason="stop",
    )


class FakeClient:
    """Answers each call with the next scripted outcome, then with ``default``.

    An :class:`LLMError` outcome is raised, a string becomes the content of a result, an
    :class:`LLMResult` is returned as is. Every request is kept in ``requests``. Thread-safe.
    """

    def __init__(
        self,
        script: Iterable[Outcome] = (),
        *,
        default: Callable[[LLMRequest], LLMResult] = echo,
    ) -> None:
        self._script: deque[Outcome] = deque(script)
        self._default = default
        self._lock = threading.Lock()
        self.requests: list[LLMRequest] = []
        self.closed = False

    def push(self, *outcomes: Outcome) -> None:
        """Queue more outcomes after those already scripted."""
        with self._lock:
            self._script.extend(outcomes)

    @property
    def calls(self) -> int:
        """How many times :meth:`complete` was called."""
        with self._lock:
            return len(self.requests)

    def complete(self, request: LLMRequest) -> LLMResult:
        with self._lock:
            self.requests.append(request)
            outcome = self._script.popleft() if self._script else None
        if outcome is None:
            return self._default(request)
        if isinstance(outcome, LLMError):
            raise outcome
        if isinstance(outcome, str):
            return self._default(request).model_copy(update={"content": outcome})
        return outcome

    def close(self) -> None:
        self.closed = True
