"""A worker whose wall clock is off: libfaketime, steered at run time through a file.

The worker process runs with ``LD_PRELOAD`` = libfaketime (Debian's ``faketime`` package), its
offset read from a file at most a second old (``FAKETIME_CACHE_DURATION``), so
:func:`set_offset` moves its wall clock while it runs, as a bad NTP step would (within about two
seconds of the call). Monotonic clocks are left alone
(``FAKETIME_DONT_FAKE_MONOTONIC``), which trips libfaketime 0.9.10 on Python 3.11's
``time.sleep`` (``clock_nanosleep`` with an absolute monotonic deadline fails with EINVAL:
libfaketime issue #426); so the process starts through :data:`BOOT`, which gives ``time.sleep``
a ``select``-based body before anything else is imported (modules keep ``time.sleep`` as a
default argument), then runs the ``llmix-workers`` command line unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

from llmix_workers.testing.nemesis.netns import NetnsUnavailable

LIBRARY_DIRS: Final = ("/usr/lib/x86_64-linux-gnu/faketime", "/usr/lib/aarch64-linux-gnu/faketime",
                       "/usr/lib/faketime", "/usr/local/lib/faketime")  # fmt: skip


def library() -> str:
    """Path of the multi-threaded libfaketime.

    Raises:
        NetnsUnavailable: not installed (says how to install it).
    """
    for folder in LIBRARY_DIRS:
        path = Path(folder) / "libfaketimeMT.so.1"
        if path.is_file():
            return str(path)
    raise NetnsUnavailable("the clock-skew fault needs libfaketime: apt install faketime")


def environment(offset_file: Path) -> dict[str, str]:
    """Variables that put a process's wall clock under ``offset_file`` (created at +0)."""
    if not offset_file.exists():
        set_offset(offset_file, 0)
    return {
        "LD_PRELOAD": library(),
        "FAKETIME_TIMESTAMP_FILE": str(offset_file),
        "FAKETIME_CACHE_DURATION": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        # a crash under the preloaded library prints every thread's stack (CI ci10: a skewed
        # worker exited at start with nothing in its log)
        "PYTHONFAULTHANDLER": "1",
    }


#: ``python -c`` program: a ``time.sleep`` that libfaketime leaves alone, then the CLI.
BOOT: Final = """
import select, time

def sleep(seconds):
    seconds = float(seconds)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)  # retried with the time left after a signal (PEP 475)

time.sleep = sleep
from llmix_workers.cli import main
main()
"""


def launcher() -> list[str]:
    """The command that starts ``llmix-workers`` with :data:`BOOT`'s ``time.sleep``."""
    return [sys.executable, "-c", BOOT]


def set_offset(offset_file: Path, seconds: int) -> None:
    """Move the wall clock of every process reading ``offset_file`` by ``seconds`` from true."""
    temporary = offset_file.with_suffix(".tmp")
    temporary.write_text(f"{seconds:+d}\n")
    temporary.replace(offset_file)  # readers never see a half-written file
