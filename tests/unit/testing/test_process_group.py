"""group_running: a stopped process group runs nothing; a resumed one runs again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from llmix_workers.testing.process_group import group_running, group_states
from llmix_workers.testing.waiting import eventually


def test_a_stopped_group_runs_nothing_and_a_resumed_one_runs_again() -> None:
    child = ("import subprocess, sys, time; "
             "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
             "time.sleep(60)")  # fmt: skip
    process = subprocess.Popen([sys.executable, "-c", child], start_new_session=True)
    try:
        eventually(lambda: len(group_states(process.pid)) == 2, "parent and child in the group")
        assert sorted(group_running(process.pid)) == sorted(group_states(process.pid))
        process.send_signal(signal.SIGSTOP)  # the parent only: the child still runs
        eventually(lambda: process.pid not in group_running(process.pid), "the parent stopped")
        assert len(group_running(process.pid)) == 1
        os.killpg(process.pid, signal.SIGSTOP)
        eventually(lambda: group_running(process.pid) == [], "the whole group stopped")
        os.killpg(process.pid, signal.SIGCONT)
        eventually(lambda: len(group_running(process.pid)) == 2, "the group running again")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
