"""Replay nemesis schedules by hand (root): ``python -m llmix_workers.testing.nemesis``.

``--mixed SEED`` replays the random mix of that seed (the seed a failing test printed),
``--aimed KIND`` (repeatable; ``write`` for the write in flight across a clear, ``all`` for
every one) the schedule aimed at one fault; ``--sentinel`` runs
on a primary + replica + 3 sentinels instead of one Redis. Prints each verdict and where the
history went; exits 1 when any run found a violation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from llmix_workers.testing.nemesis import faults, scenarios
from llmix_workers.testing.nemesis.cluster import ClusterSpec, NemesisCluster
from llmix_workers.testing.nemesis.netns import clean_stale, require_netns
from llmix_workers.testing.nemesis.runner import Runner
from llmix_workers.testing.nemesis.schedule import Schedule


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmix_workers.testing.nemesis")
    parser.add_argument("--mixed", type=int, action="append", default=[], metavar="SEED")
    parser.add_argument("--aimed", action="append", default=[], metavar="KIND")
    parser.add_argument("--sentinel", action="store_true")
    parser.add_argument("--seconds", type=float, default=26.0, help="length of a mixed run")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    every = [faults.FAILOVER] if args.sentinel else list(faults.KINDS)
    kinds = every if "all" in args.aimed else args.aimed
    schedules: list[Schedule] = [
        scenarios.in_flight_write() if kind == "write" else scenarios.aimed(kind) for kind in kinds
    ]
    if "all" in args.aimed and not args.sentinel:
        schedules.append(scenarios.in_flight_write())
    schedules += [scenarios.mixed(seed, seconds=args.seconds) for seed in args.mixed]
    if not schedules:
        parser.error("nothing to run: give --mixed SEED or --aimed KIND")
    require_netns()
    clean_stale()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="llmix-nemesis-"))
    workdir.mkdir(parents=True, exist_ok=True)
    spec = ClusterSpec(sentinel=args.sentinel, skewed=(scenarios.SKEWED,))
    cluster = NemesisCluster(spec, workdir)
    found = 0
    try:
        cluster.start()
        runner = Runner(cluster, workdir).start()
        try:
            for schedule in schedules:
                began = time.monotonic()
                result = runner.run(schedule)
                found += len(result.verdict.violations)
                print(f"== {schedule.name} ({time.monotonic() - began:.1f} s): "
                      f"{result.verdict.summary()}\n   by kind {result.verdict.by_kind()}, "
                      f"by fault {result.verdict.by_fault()}\n   history: {result.history}",
                      flush=True)  # fmt: skip
        finally:
            runner.close()
    finally:
        cluster.close()
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
