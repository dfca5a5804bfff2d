"""Run one page's examples in order, as a reader would in one terminal and one Python session.

Every page gets a folder of its own (the working directory of its blocks), a private Redis, the
stub provider standing in for OpenAI and Anthropic, and the workers it asks for
(:class:`~llmix_workers.testing.local_fleet.LocalFleet`). Shell blocks run in ``bash -e`` with
the fleet's environment plus ``REDIS_URL``; Python blocks run in this process, in one namespace
per page, with the same environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import pytest

from llmix_workers.testing.local_fleet import LocalFleet
from tests.docs.examples import Block, Page

#: Seconds a shell block, or a background command's wait for readiness, may take.
BLOCK_TIMEOUT_S: Final = 180.0


class PageRun:
    """The session in which one page's blocks run, in page order."""

    def __init__(self, page: Page, fleet: LocalFleet, monkeypatch: pytest.MonkeyPatch) -> None:
        self.page = page
        self.fleet = fleet
        self.workdir = fleet.workdir
        (self.workdir / "settings.toml").touch()
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **fleet.env(),
            "REDIS_URL": fleet.redis_url,
            "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        }
        self.namespace: dict[str, Any] = {"__name__": "__docs_example__"}
        self.background: list[tuple[Block, subprocess.Popen[bytes]]] = []
        for name in [name for name in os.environ if name.startswith("LLMIX_")]:
            monkeypatch.delenv(name)
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(self.workdir)

    def run(self, block: Block) -> None:
        if block.kind == "python":
            self._python(block)
        elif "background" in block.options:
            self._background(block)
        else:
            self._shell(block)

    def _python(self, block: Block) -> None:
        code = compile(block.code, block.where, "exec")
        try:
            exec(code, self.namespace)
        except Exception as exc:
            raise AssertionError(f"{block.where}: the Python example raised {exc!r}") from exc

    def _shell(self, block: Block) -> None:
        expected = int(block.options.get("exit", "0"))
        try:
            done = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", block.code], cwd=self.workdir,
                env=self.env, capture_output=True, timeout=BLOCK_TIMEOUT_S,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{block.where}: still running after {BLOCK_TIMEOUT_S:g} s"
            ) from None
        if done.returncode != expected:
            raise AssertionError(
                f"{block.where}: exit status {done.returncode}, expected {expected}\n"
                f"--- stdout\n{_tail(done.stdout)}\n--- stderr\n{_tail(done.stderr)}"
            )

    def _background(self, block: Block) -> None:
        log = self.workdir / f"background-{block.line}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-e", "-c", block.code], cwd=self.workdir, env=self.env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.background.append((block, process))
        ready = block.options.get("ready")
        deadline = time.monotonic() + BLOCK_TIMEOUT_S
        while ready and ready not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"{block.where}: never printed {ready!r} (exit status {process.poll()})\n"
                    + _tail(log.read_bytes())
                )
            time.sleep(0.1)

    def close(self) -> None:
        """Stop the background commands; each must have kept running until now."""
        failures = []
        for block, process in self.background:
            if process.poll() is not None:
                failures.append(f"{block.where}: stopped early with exit status {process.poll()}")
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.background.clear()
        assert not failures, "\n".join(failures)


def _tail(output: bytes, chars: int = 3000) -> str:
    return output.decode(errors="replace")[-chars:]
