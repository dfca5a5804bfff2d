"""A cluster URL whose seed nodes do not answer stops a worker at start with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llmix_workers.testing.redis_server import PrivateRedis, free_port

pytestmark = pytest.mark.slow


def test_a_worker_with_an_unreachable_cluster_exits_with_one_line(
    redis_server: PrivateRedis, tmp_path: Path
) -> None:
    (tmp_path / "settings.toml").touch()
    env = {
        "LLMIX_REDIS__URL": f"redis+cluster://:hunter2@127.0.0.1:{free_port()}",
        "LLMIX_WORKER__BROKER_URL": redis_server.url,
        "LLMIX_WORKER__RESULT_BACKEND": redis_server.url,
        "LLMIX_SETTINGS": str(tmp_path / "settings.toml"),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "llmix_workers", "worker", "-n", "doomed@x", "-c", "1"],
        env=env, capture_output=True, timeout=60,
    )  # fmt: skip
    output = (done.stdout + done.stderr).decode()
    assert done.returncode != 0, output
    lines = [line for line in output.splitlines() if "unreachable" in line]
    assert len(lines) == 1 and "Redis Cluster redis+cluster://127.0.0.1:" in lines[0], output
    assert "hunter2" not in output and " ready." not in output
