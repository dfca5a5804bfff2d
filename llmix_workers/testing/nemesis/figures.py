"""The nemesis's figures for docs/reliability.md: one row per run, a total, from the history.

Besides the checker's counts, two costs of the guarantee, read from the history:

- *extra provider calls during partitions*: calls a worker cut off from the cache Redis made
  while cut, beyond what its lookups would have cost at the fleet's miss rate outside faults;
- *heal to L1*: seconds from the heal of such a cut to the end of that worker's first L1 hit
  that started after the heal (the slowest over the run's cuts).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from llmix_workers.testing.nemesis.checker import Verdict
from llmix_workers.testing.nemesis.faults import WORKER_CACHE
from llmix_workers.testing.nemesis.history import Call, Event, Injected, Lookup

COLUMNS = {
    "lookups": "lookups",
    "judged": "hits judged",
    "clears": "clears (complete)",
    "violations": "violations",
    "partition_calls": "provider calls while cut (extra)",
    "heal_to_l1_s": "heal to L1 (s)",
}


def run_figures(name: str, seed: int, verdict: Verdict, events: Sequence[Event]) -> dict[str, Any]:
    """The row of one run."""
    calls, extra = partition_calls(events)
    return {
        "name": name, "seed": seed, "lookups": verdict.lookups, "judged": verdict.judged,
        "clears": verdict.clears, "complete_clears": verdict.complete_clears,
        "violations": len(verdict.violations), "by_kind": verdict.by_kind(),
        "by_fault": verdict.by_fault(), "partition_calls": calls, "partition_extra": extra,
        "heal_to_l1_s": heal_to_l1(events),
    }  # fmt: skip


def partition_calls(events: Sequence[Event]) -> tuple[int, int]:
    """(calls made by workers while cut from the cache Redis, how many of them were extra)."""
    cuts = [e for e in events if isinstance(e, Injected) and e.kind == WORKER_CACHE]
    faults = [e for e in events if isinstance(e, Injected)]
    worker_lookups = [e for e in events if isinstance(e, Lookup) and e.via == "worker"]
    calm = [e for e in worker_lookups if e.error is None and not _during(e.start, faults)]
    miss_rate = sum(e.tier is None for e in calm) / len(calm) if calm else 0.0
    made = expected = 0
    for cut in cuts:
        made += sum(1 for e in events if isinstance(e, Call) and e.client == cut.target
                    and cut.start <= e.at <= cut.end)  # fmt: skip
        expected += round(miss_rate * sum(1 for e in worker_lookups
                                          if e.process.split("@")[0] == cut.target
                                          and cut.start <= e.start <= cut.end))  # fmt: skip
    return made, max(0, made - expected)


def heal_to_l1(events: Sequence[Event]) -> float | None:
    """Slowest return to L1 after a worker's cut from the cache Redis healed (None: no cut,
    or no L1 hit after it)."""
    worst: float | None = None
    for cut in (e for e in events if isinstance(e, Injected) and e.kind == WORKER_CACHE):
        after = [e.end - cut.end for e in events if isinstance(e, Lookup) and e.tier == "l1"
                 and e.process.split("@")[0] == cut.target and e.start >= cut.end]  # fmt: skip
        if after:
            worst = max(worst or 0.0, min(after))
    return None if worst is None else round(worst, 3)


def _during(moment: float, faults: Iterable[Injected]) -> bool:
    return any(f.start <= moment <= f.end for f in faults)


def merge(rows: Iterable[Mapping[str, Any]], path: Path) -> None:
    """Put ``rows`` into the figures file's ``nemesis`` section, replacing same-named runs."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    runs = data.setdefault("nemesis", {})
    for row in rows:
        runs[str(row["name"])] = dict(row)
    data["nemesis"] = dict(sorted(runs.items()))
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def render(runs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Markdown lines of the nemesis section (empty without runs)."""
    if not runs:
        return []
    lines = [
        "", "## Nemesis: a completed clear is final", "",
        "Generated from the nemesis suite (`tests/nemesis`): hosts as network namespaces, faults",
        "on seeded schedules during a workload, every lookup checked against every clear that",
        "had reported complete. A violation is a lookup that started after a clear reported",
        "complete and returned an entry whose provider call began before that clear started.",
        "`make nemesis` runs the suite (root); a failing run replays with",
        "`python -m llmix_workers.testing.nemesis --mixed SEED` or `--aimed KIND`.",
        "", "| run | seed | " + " | ".join(COLUMNS.values()) + " | violations by kind |",
        "| --- | ---: | " + " | ".join("---:" for _ in COLUMNS) + " | --- |",
    ]  # fmt: skip
    for name, row in runs.items():
        cells = [str(row["lookups"]), str(row["judged"]),
                 f"{row['clears']} ({row['complete_clears']})", str(row["violations"]),
                 f"{row['partition_calls']} ({row['partition_extra']})",
                 "" if row["heal_to_l1_s"] is None else f"{row['heal_to_l1_s']:.2f}"]  # fmt: skip
        kinds = ", ".join(f"{kind}: {count}" for kind, count in row["by_kind"].items())
        lines.append(f"| {name} | {row['seed']} | " + " | ".join(cells) + f" | {kinds} |")
    keys = ("lookups", "judged", "clears", "complete_clears", "violations")
    total = {key: sum(int(r[key]) for r in runs.values()) for key in keys}
    lines += ["", f"Total: {len(runs)} runs, {total['lookups']} lookups, {total['judged']} hits "
              f"judged, {total['clears']} clears ({total['complete_clears']} complete), "
              f"{total['violations']} violations."]  # fmt: skip
    return lines
