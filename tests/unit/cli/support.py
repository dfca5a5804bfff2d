"""Running ``llmix-workers`` as a user does: a real process, a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Settings a user might have exported, removed so each test states its own.
_USER_VARS = ("REDIS_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "LLMIX_SETTINGS")


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: bytes = b""
) -> subprocess.CompletedProcess[str]:
    """``python -m llmix_workers ARGS`` with only the ``env`` given on top of a clean one."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith("LLMIX_") and k not in _USER_VARS
    }
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "llmix_workers", *args],
        env=base,
        cwd=cwd,
        input=stdin.decode("utf-8", "surrogateescape"),
        capture_output=True,
        text=True,
        timeout=90,
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (asserting there is exactly one)."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1, done.stderr
    return lines[0]
