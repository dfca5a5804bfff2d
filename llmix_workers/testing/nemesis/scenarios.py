"""The suite's schedules: one aimed at each fault, and seeded random mixes.

An aimed schedule plays its fault where it can do harm: long enough for a clear to stop waiting
for a silent worker (``fleet.heartbeat_ttl_s``, 5 s by default, on today's code), with clears
started all three ways while the fault lasts and after it heals.
"""

from __future__ import annotations

from typing import Final

from llmix_workers.testing.nemesis import faults
from llmix_workers.testing.nemesis.schedule import Lane, Schedule, Step, random_schedule

#: Faults a standalone cluster with one skewed worker (``w3``) can play.
STANDALONE_KINDS: Final = (
    faults.WORKER_CACHE, faults.WORKER_BROKER, faults.PRODUCER_CACHE, faults.REDIS_PAUSED,
    faults.REDIS_KILLED, faults.REDIS_RESTARTED, faults.PUBSUB_KILLED, faults.CLOCK_SKEW,
)  # fmt: skip
SKEWED: Final = "w3"


def _three_ways(at_s: float, gap_s: float = 2.0, queue: str = "q-w2") -> list[Step]:
    return [Step(at_s, "clear", how="cli"), Step(at_s + gap_s, "clear", how="task", queue=queue),
            Step(at_s + 2 * gap_s, "clear", how="broadcast")]  # fmt: skip


def _window(kind: str, target: str, start_s: float, end_s: float) -> list[Step]:
    return [Step(start_s, "inject", kind, target), Step(end_s, "heal", kind, target)]


def aimed(kind: str, seed: int = 1) -> Schedule:
    """The schedule aimed at fault ``kind`` (see the module docstring)."""
    steps: list[Step]
    seconds = 15.0
    if kind in (faults.WORKER_CACHE, faults.WORKER_BROKER, faults.PRODUCER_CACHE):
        target = "producer" if kind == faults.PRODUCER_CACHE else "w1"
        steps = [*_window(kind, target, 1.5, 11.5), *_three_ways(7.5, 1.5),
                 Step(12.5, "clear", how="task", queue="q-w2")]  # fmt: skip
    elif kind == faults.REDIS_PAUSED:
        steps = [*_window(kind, "cache", 2.0, 7.0), Step(4.0, "clear", how="task"),
                 *_three_ways(8.0, 1.5)]  # fmt: skip
    elif kind == faults.REDIS_KILLED:
        steps = [*_window(kind, "cache", 2.0, 5.0), Step(3.0, "clear", how="cli"),
                 *_three_ways(6.0, 1.5)]  # fmt: skip
    elif kind == faults.REDIS_RESTARTED:
        steps = [
            Step(2.0 + 3 * i, "clear+fault", kind, "cache", how=how, queue="q-w2", delay_s=0.05 * i)
            for i, how in enumerate(("cli", "task", "broadcast"))
        ]
        steps.append(Step(11.5, "clear", how="task", queue="q-w3"))
    elif kind == faults.PUBSUB_KILLED:
        steps = []
        for i, (target, how) in enumerate((("cache", "cli"), ("w2", "task"), ("w1", "broadcast"),
                                           ("cache", "task"))):  # fmt: skip
            at = 1.5 + 3.0 * i
            steps += [*_window(kind, target, at - 0.2, at + 2.5), Step(at, "clear", how=how)]
        # Subscribers come back a second after their last kill: then a clear completes.
        seconds = 17.0
        steps.append(Step(14.5, "clear", how="task", queue="q-w3"))
    elif kind == faults.CLOCK_SKEW:
        # A clear skips the skewed worker (its heartbeats look 5 min old), so a cut far
        # shorter than fleet.heartbeat_ttl_s, which a clear would otherwise wait out as
        # incomplete, is enough for it to serve stale entries.
        seconds = 16.0
        steps = [*_window(kind, SKEWED, 0.5, 13.6), Step(14.0, "clear", how="broadcast")]
        for i, how in enumerate(("task", "cli", "broadcast", "task")):
            at = 3.0 + 2.8 * i
            steps += [*_window(faults.WORKER_CACHE, SKEWED, at - 0.5, at + 2.0),
                      Step(at, "clear", how=how, queue=f"q-w{1 + i % 2}")]  # fmt: skip
    elif kind == faults.FAILOVER:
        # Not the CLI: `cache clear` refuses redis+sentinel:// URLs today (cli/reach.py pings
        # with redis.Redis.from_url).
        steps = [Step(3.0, "failover", kind, "cache", how="task", queue="q-w1"),
                 Step(11.5, "clear", how="broadcast")]  # fmt: skip
    else:
        raise ValueError(f"no aimed schedule for {kind!r}")
    return Schedule(f"aimed: {kind}", seed, seconds, tuple(sorted(steps, key=lambda s: s.at_s)))


def in_flight_write(seed: int = 1) -> Schedule:
    """Writes that passed their generation check before a clear and reach Redis after it.

    Each round: a clear empties every L1, so the skewed worker's next lookups miss and call the
    provider (every third key takes 400 ms); it is then cut from the cache Redis for 1.5 s:
    the L2 write of an answer it was computing times out on the client side but stays in the
    kernel's send queue, and reaches Redis when the link heals (TCP retransmits the data of a
    closed socket). A second clear starts during the cut and, the worker's heartbeats looking
    5 min old, completes without it. The issue's check-then-write race, with the network's delay
    in place of pub/sub latency: the other processes then read answers computed before that
    clear from L2. Rounds are 7 s apart: a timed-out L2 call keeps a worker off L2 for
    ``cache.l2_cooloff_s`` (5 s).
    """
    steps = [*_window(faults.CLOCK_SKEW, SKEWED, 0.5, 15.0), Step(15.0, "clear", how="task")]
    for at in (2.0, 9.0):
        steps += [Step(at, "clear", how="task", queue="q-w1"),
                  *_window(faults.WORKER_CACHE, SKEWED, at + 0.6, at + 2.1),
                  Step(at + 1.1, "clear", how="task", queue="q-w2")]  # fmt: skip
    return Schedule("aimed: writes in flight across a clear", seed, 17.0,
                    tuple(sorted(steps, key=lambda s: s.at_s)))  # fmt: skip


def mixed(seed: int, *, seconds: float = 26.0, workers: int = 3) -> Schedule:
    """A seeded random mix of every fault a standalone cluster can play, on three lanes that
    overlap: the network, the cache Redis process, and pub/sub and clocks."""
    names = [f"w{i + 1}" for i in range(workers)]
    network = Lane({faults.WORKER_CACHE: names, faults.WORKER_BROKER: names,
                    faults.PRODUCER_CACHE: ["producer"]})  # fmt: skip
    process = Lane({faults.REDIS_PAUSED: ["cache"], faults.REDIS_KILLED: ["cache"],
                    faults.REDIS_RESTARTED: ["cache"]},
                   fault_s=(1.0, 4.0), gap_s=(3.0, 8.0))  # fmt: skip
    messages = Lane({faults.PUBSUB_KILLED: ["cache", *names], faults.CLOCK_SKEW: [SKEWED]},
                    fault_s=(2.0, 8.0), gap_s=(1.0, 5.0))  # fmt: skip
    return random_schedule(seed, seconds=seconds, lanes=[network, process, messages],
                           workers=names)  # fmt: skip


def replay(schedule: Schedule) -> str:
    """The command that plays ``schedule`` again (``python -m llmix_workers.testing.nemesis``)."""
    command = "python -m llmix_workers.testing.nemesis"
    if schedule.name.startswith("random seed "):
        return f"{command} --mixed {schedule.seed} --seconds {schedule.seconds:g}"
    if schedule.name == in_flight_write().name:
        return f"{command} --aimed write"
    kind = schedule.name.removeprefix("aimed: ")
    return f"{command}{' --sentinel' if kind == faults.FAILOVER else ''} --aimed '{kind}'"
