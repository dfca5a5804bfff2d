"""RedisBudgets: fleet-wide provider budgets, drawn from by every worker process in one round trip.

Why a script of our own and not the ``limits`` library: a call here must be charged against two
limits at once (requests and tokens), may *reserve* a place and wait for it (a call over budget
waits its share, then goes), is corrected afterwards from the usage the provider reports, and
is shrunk for everyone by a 429. ``limits`` (moving/sliding windows over Redis) answers "hit or
not" per limit: two limits are two round trips and not atomic together, it has no reservation
(a refused caller must poll), and no shared shrink. So ``budget.lua`` runs GCRA (the generic
cell rate algorithm: one "theoretical arrival time" per limit) in one EVALSHA per call, on
Redis' clock, over one hash in the fleet's hash-tag slot together with the members set it
counts (standalone, Sentinel and Cluster alike). Token corrections ride on the process's next
draw from the same budget, so a call costs one round trip; a 429 costs one more (the shrink).

When the Redis does not answer (or is cooling off after a timeout), the process draws from a
:class:`~llmix_workers.fleet.budget_local.LocalBudget`: the budget divided by the live members
it last saw; a process that never saw the members refuses (waits out of line) rather than take
the whole budget.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Final, Protocol

import redis

from llmix_workers.fleet.budget_local import LocalBudget
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.settings.sections import Budget
from llmix_workers.topology.clients import REDIS_ERRORS
from llmix_workers.topology.outage import Outage

logger = logging.getLogger(__name__)
SCRIPT = files("llmix_workers.fleet").joinpath("budget.lua").read_text(encoding="utf-8")
#: A 429 halves a budget, down to this share of it at most.
MIN_FACTOR: Final = 0.125
#: Seconds between two halvings: the 429s of one overshoot, seen by many processes, halve once.
SHRINK_GAP_S: Final = 1.0


class BudgetObserver(Protocol):
    """Told what the budgets did (the telemetry layer counts it); must not raise."""

    def drew(self, budget: str, tokens: int, wait_s: float, *, local: bool) -> None:
        """A call was granted ``tokens`` of ``budget`` after waiting ``wait_s`` (``local``:
        decided without Redis, from the process's share)."""
        ...

    def refused(self, budget: str, wait_s: float, *, local: bool) -> None:
        """A call would have waited ``wait_s``, longer than allowed: it leaves the line."""
        ...

    def shrunk(self, budget: str) -> None:
        """A 429 shrank ``budget`` for the whole fleet."""
        ...


@dataclass(frozen=True, slots=True)
class BudgetDraw:
    """One call's draw: from which budget (``None``: the call has none), granted or not, the
    seconds to wait before calling (or, refused, that the call would have had to wait), and
    the tokens charged (an estimate, corrected by :meth:`settle`); ``factor`` is the share of
    the budget in force (below 1 while it recovers from a 429's shrink)."""

    budget: str | None
    granted: bool
    wait_s: float
    tokens: int
    owner: RedisBudgets | None = None
    factor: float = 1.0

    def settle(self, used_tokens: int) -> None:
        """The provider reported ``used_tokens`` (input + output) for this call."""
        if self.owner is not None:
            self.owner.settle(self, used_tokens)

    def shrink(self, retry_after_s: float | None) -> None:
        """The provider answered this call 429 (asking to wait ``retry_after_s``)."""
        if self.owner is not None:
            self.owner.shrink(self, retry_after_s)

    def hold(self, seconds: float) -> None:
        """The provider said the budget is spent for ``seconds`` (rate-limit headers)."""
        if self.owner is not None:
            self.owner.hold(self, seconds)


class RedisBudgets:
    """Every ``[llm.budgets]`` budget of one fleet. Thread-safe; build one per process.

    ``member_ttl_s`` says how recently a member must have checked in to count as live (the
    fleet's ``fleet.member_ttl_s``); ``outage`` is shared with the other parts on this Redis.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: FleetKeys,
        budgets: Mapping[str, Budget],
        *,
        burst_s: float,
        recovery_s: float,
        member_ttl_s: float,
        outage: Outage | None = None,
        observer: BudgetObserver | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._budgets = dict(budgets)
        self._burst_s = burst_s
        self._recovery_s = recovery_s
        self._member_ttl_s = member_ttl_s
        self._outage = outage if outage is not None else Outage(member_ttl_s, monotonic)
        self._observer = observer
        self._monotonic = monotonic
        self._script = client.register_script(SCRIPT)
        self._lock = threading.Lock()
        self._owed: dict[str, int] = {}
        self._live: int = 0
        self._local: dict[str, LocalBudget] = {}
        self._down = False

    def budget_for(self, provider: str, model: str) -> str | None:
        """The budget a call of ``model`` at ``provider`` draws from: the model's, else the
        provider's, else none."""
        for name in (f"{provider}/{model}", provider):
            if name in self._budgets:
                return name
        return None

    def draw(self, provider: str, model: str, tokens: int, max_wait_s: float) -> BudgetDraw:
        """Reserve one call of about ``tokens`` (input + output) from its budget, waiting at
        most ``max_wait_s`` for its turn. Never raises for Redis: unreachable, the process's
        share decides."""
        name = self.budget_for(provider, model)
        if name is None:
            return BudgetDraw(None, True, 0.0, 0)
        limits = self._budgets[name]
        local = self._outage.quiet()
        reply = None if local else self._shared(name, limits, tokens, max_wait_s)
        if reply is None:
            local = True
            reply = (*self._local_draw(name, limits, tokens, max_wait_s), 1.0)
        granted, wait_s, factor = reply
        draw = BudgetDraw(name, granted, wait_s, tokens, self, factor)
        if self._observer is not None:
            if granted:
                self._observer.drew(name, tokens, wait_s, local=local)
            else:
                self._observer.refused(name, wait_s, local=local)
        return draw

    def settle(self, draw: BudgetDraw, used_tokens: int) -> None:
        """The provider reported ``used_tokens`` for ``draw``'s call: the difference from the
        estimate is charged (or given back) with this process's next draw of that budget."""
        if draw.budget is None or not draw.granted or used_tokens <= 0:
            return
        with self._lock:
            self._owed[draw.budget] = self._owed.get(draw.budget, 0) + used_tokens - draw.tokens

    def shrink(self, draw: BudgetDraw, retry_after_s: float | None) -> None:
        """The provider answered 429: halve the budget for the whole fleet (at most once per
        :data:`SHRINK_GAP_S`; it grows back over ``budget_recovery_s``) and hold every draw of
        it for ``retry_after_s``. Redis unreachable: the process's share is halved instead."""
        if draw.budget is None:
            return
        if not self._outage.quiet():
            try:
                self._run(draw.budget, self._budgets[draw.budget], "shrink", 0, 0, 0.0,
                          retry_after_s or 0.0)  # fmt: skip
            except REDIS_ERRORS as exc:
                self._failed(exc)
            else:
                if self._observer is not None:
                    self._observer.shrunk(draw.budget)
                return
        with self._lock:
            local = self._local.get(draw.budget)
        if local is not None:
            local.halve()

    def hold(self, draw: BudgetDraw, seconds: float) -> None:
        """Hold every draw of ``draw``'s budget, fleet-wide, for ``seconds`` (no halving).
        Redis unreachable: nothing (the process's share already keeps it in line)."""
        if draw.budget is None or self._outage.quiet():
            return
        try:
            self._run(draw.budget, self._budgets[draw.budget], "hold", 0, 0, 0.0, seconds)
        except REDIS_ERRORS as exc:
            self._failed(exc)

    def _shared(
        self, name: str, limits: Budget, tokens: int, max_wait_s: float
    ) -> tuple[bool, float, float] | None:
        with self._lock:
            owed = self._owed.pop(name, 0)
        try:
            reply = self._run(name, limits, "draw", tokens, owed, max_wait_s, 0.0)
        except REDIS_ERRORS as exc:
            self._failed(exc)
            with self._lock:
                self._owed[name] = self._owed.get(name, 0) + owed
            return None
        granted, wait_ms, live, factor = reply
        with self._lock:
            self._live = int(live)
            self._local.pop(name, None)
            back, self._down = self._down, False
        if back:
            logger.warning("fleet budgets reachable again: drawing from the shared budget")
        return bool(int(granted)), float(wait_ms) / 1000, float(factor)

    def _run(self, name: str, limits: Budget, op: str, tokens: int, owed: int,
             max_wait_s: float, retry_after_s: float) -> list[Any]:  # fmt: skip
        args: list[str | int | float] = [
            op, limits.rpm or 0, limits.tpm or 0, tokens, owed, self._burst_s * 1000,
            max_wait_s * 1000, self._recovery_s * 1000, self._member_ttl_s * 1000,
            retry_after_s * 1000, MIN_FACTOR, SHRINK_GAP_S * 1000,
        ]  # fmt: skip
        reply: list[Any] = self._script(keys=[self._keys.budget(name), self._keys.members],
                                        args=args)  # fmt: skip
        self._outage.answered()
        return reply

    def _local_draw(
        self, name: str, limits: Budget, tokens: int, max_wait_s: float
    ) -> tuple[bool, float]:
        with self._lock:
            live = self._live
            local = self._local.get(name)
            if local is None and live > 0:
                local = self._local[name] = LocalBudget(
                    (limits.rpm or 0) / live, (limits.tpm or 0) / live, burst_s=self._burst_s
                )
        if local is None:  # never saw the fleet: no share is known to be safe
            return False, self._member_ttl_s
        return local.draw(self._monotonic(), tokens, max_wait_s)

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, redis.TimeoutError | TimeoutError):
            self._outage.timed_out()
        with self._lock:
            first, self._down = not self._down, True
        if first:  # once per outage, not once per call
            logger.warning("fleet budgets unreachable, drawing from this process's share: %s", exc)
