"""What the processes of a group are doing, from ``/proc`` (Linux): a paused worker is only
paused once none of its processes runs."""

from __future__ import annotations

import os
from pathlib import Path

#: Process states (``/proc/<pid>/stat``) of a process that runs no code: stopped, traced,
#: zombie, dead.
NOT_RUNNING = frozenset("TtZX")


def group_running(pgid: int) -> list[int]:
    """The processes of group ``pgid`` that may still run code (not stopped, not dead)."""
    return [pid for pid, state in group_states(pgid).items() if state not in NOT_RUNNING]


def group_states(pgid: int) -> dict[int, str]:
    """The state letter of every process of group ``pgid``, by pid."""
    states = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid):
            states[int(entry)] = fields[0]
    return states
