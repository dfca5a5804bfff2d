"""The open-files limit a worker process needs for its pools, raised at start when it can be.

Each task thread may hold an L2 connection, an HTTP connection to its provider, and for a
moment a fleet, result-backend and broker connection: about :data:`FILES_PER_TASK` descriptors
per thread, plus :data:`BASE_FILES` for the process itself. Many hosts start processes with a
soft limit of 1024, which a node of 256 threads would exhaust ("Too many open files" on a
healthy Redis); the soft limit may be raised up to the hard one without privileges.
"""

from __future__ import annotations

import logging
import resource
from typing import Final

from llmix_workers.settings import Settings
from llmix_workers.settings.sizing import tasks_per_process

logger = logging.getLogger(__name__)

FILES_PER_TASK: Final = 4
BASE_FILES: Final = 256


def files_needed(settings: Settings) -> int:
    """Open files one worker process of ``settings`` may need at once."""
    return BASE_FILES + FILES_PER_TASK * tasks_per_process(settings.worker)


def raise_open_files_limit(settings: Settings) -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to what ``settings`` needs (at most the hard
    limit); warn in one line when the hard limit is lower. Returns the soft limit in force."""
    needed = files_needed(settings)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        logger.warning(
            "open-files limit %d is below the %d that worker.concurrency %d needs; raise it "
            "(ulimit -n) or lower the concurrency", target, needed, settings.worker.concurrency,
        )  # fmt: skip
    return target
