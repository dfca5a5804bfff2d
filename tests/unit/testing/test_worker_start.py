"""A test worker that dies at start says how: its exit status or the signal that killed it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from llmix_workers.testing.local_fleet import LocalWorker, WorkerDidNotStart


@pytest.mark.parametrize(
    ("program", "how"),
    [("import os; os.kill(os.getpid(), 11)", "killed by SIGSEGV"),
     ("print('bad settings'); raise SystemExit(2)", "status 2")],
)  # fmt: skip
def test_a_worker_that_dies_at_start_names_its_exit(tmp_path: Path, program: str, how: str) -> None:
    worker = LocalWorker(
        "dies", dict(os.environ), tmp_path, launcher=[sys.executable, "-c", program]
    )
    with pytest.raises(WorkerDidNotStart, match=how):
        worker.start(timeout_s=60)
