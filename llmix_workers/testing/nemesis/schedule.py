"""Schedules: what the nemesis does when, drawn from a seed (the same seed, the same schedule).

A step is an injection or a heal of a fault (:mod:`~llmix_workers.testing.nemesis.faults`), a
clear (``cli``, ``task`` or ``broadcast``), a clear followed ``delay_s`` later by a fault (the
pub/sub kill "during a clear"), or the failover step (replica held back, clear, primary killed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Final, Literal

from llmix_workers.testing.nemesis import faults

StepAction = Literal["inject", "heal", "clear", "clear+fault", "failover"]
CLEAR_WAYS: Final = ("cli", "task", "broadcast")
#: A CLI clear starts a Python process (seconds on a loaded machine): drawn less often.
CLEAR_WEIGHTS: Final = (1, 2, 2)


@dataclass(frozen=True)
class Step:
    at_s: float
    action: StepAction
    kind: str = ""
    target: str = ""
    how: str = "cli"
    queue: str = ""
    delay_s: float = 0.0


@dataclass(frozen=True)
class Schedule:
    """A named, seeded list of steps over ``seconds``."""

    name: str
    seed: int
    seconds: float
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def faults(self) -> set[str]:
        return {step.kind for step in self.steps if step.kind}


def clears(rng: random.Random, workers: list[str], start_s: float, end_s: float,
           every_s: float) -> list[Step]:  # fmt: skip
    """Clears at random moments (mean gap ``every_s``), each started a random way."""
    steps, at = [], start_s + rng.uniform(0, every_s)
    while at < end_s:
        steps.append(Step(round(at, 3), "clear", how=_way(rng), queue=f"q-{rng.choice(workers)}"))
        at += rng.expovariate(1 / every_s)
    return steps


@dataclass(frozen=True)
class Lane:
    """Faults played one after another: ``kinds`` maps each kind to its possible targets; a
    fault lasts ``fault_s`` (range) and the next one starts ``gap_s`` (range) after its heal."""

    kinds: dict[str, list[str]]
    fault_s: tuple[float, float] = (3.0, 10.0)
    gap_s: tuple[float, float] = (0.5, 4.0)


def random_schedule(
    seed: int, *, seconds: float, lanes: list[Lane], workers: list[str], clear_every_s: float = 2.0
) -> Schedule:
    """Clears throughout, and faults on every lane at once, so faults of different lanes
    overlap. Instant faults come as clear+fault steps."""
    rng = random.Random(seed)
    steps = clears(rng, workers, 1.5, seconds - 2.0, clear_every_s)
    for lane in lanes:
        at = rng.uniform(1.0, 4.0)
        while at < seconds - 4.0:
            kind = rng.choice(sorted(lane.kinds))
            target = rng.choice(lane.kinds[kind])
            if faults.KINDS[kind].heal is None:
                steps.append(Step(round(at, 3), "clear+fault", kind, target,
                                  how=_way(rng), queue=f"q-{rng.choice(workers)}",
                                  delay_s=round(rng.uniform(0.0, 0.3), 3)))  # fmt: skip
                at += rng.uniform(*lane.gap_s)
                continue
            length = min(rng.uniform(*lane.fault_s), seconds - 2.0 - at)
            steps.append(Step(round(at, 3), "inject", kind, target))
            steps.append(Step(round(at + length, 3), "heal", kind, target))
            at += length + rng.uniform(*lane.gap_s)
    return Schedule(f"random seed {seed}", seed, seconds, tuple(sorted(steps, key=_order)))


def _way(rng: random.Random) -> str:
    return rng.choices(CLEAR_WAYS, CLEAR_WEIGHTS)[0]


def _order(step: Step) -> tuple[float, int]:
    return step.at_s, 0 if step.action == "heal" else 1
