"""Issue 14 defects 2, 3 and 10: the demo keeps the user's settings, gives up clearly when the
provider fails, and leaves no process and no folder behind, even when interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from itertools import islice
from pathlib import Path

import pytest
import redis

from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.testing.stub import StubProvider
from llmix_workers.testing.waiting import eventually

CLI = [sys.executable, "-m", "llmix_workers", "demo"]
REJECTED = "sk-test-DEMO-REJECTED-0000000000"


@pytest.fixture
def user_redis() -> Iterator[PrivateRedis]:
    with PrivateRedis() as server:
        yield server


def demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LLMIX_") and k not in ("REDIS_URL", "OPENAI_API_KEY",
                                                        "ANTHROPIC_API_KEY")}  # fmt: skip
    return env | {"TMPDIR": str(tmp_path), "LLMIX_DEMO_JOBS": "30", **extra}


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("llmix-"))


def live_workers(client: redis.Redis) -> list[int]:
    """Pids of worker processes that registered in the fleet and are still running."""
    pids = []
    for key in client.scan_iter("llmix:fleet:*members"):
        for member in client.zrange(key, 0, -1):
            text = member.decode() if isinstance(member, bytes) else str(member)
            pid = int(text.rpartition("|")[2])
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            pids.append(pid)
    return pids


def test_the_demo_keeps_the_users_settings_and_cleans_up(
    user_redis: PrivateRedis, tmp_path: Path
) -> None:
    env = demo_env(tmp_path, REDIS_URL=user_redis.url, LLMIX_CACHE__KEY_PREFIX="users:prefix:")
    done = subprocess.run(CLI, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "demo passed" in done.stdout
    assert "embedded" not in done.stdout and "REDIS_URL" in done.stdout
    client = redis.Redis.from_url(user_redis.url)
    entries = [k.decode() for k in client.scan_iter("users:prefix:*")]
    assert len(entries) >= 10  # the workers cached under the user's prefix
    assert not list(client.scan_iter("llmix:resp:*"))
    assert live_workers(client) == []
    assert leftovers(tmp_path) == []


def test_a_failing_provider_makes_the_demo_give_up_clearly(
    user_redis: PrivateRedis, tmp_path: Path
) -> None:
    with StubProvider() as provider:
        provider.script(reject_keys=[REJECTED])
        env = demo_env(tmp_path, REDIS_URL=user_redis.url, OPENAI_API_KEY=REJECTED,
                       LLMIX_LLM__BASE_URLS__OPENAI=provider.base_url + "/v1")  # fmt: skip
        done = subprocess.run(CLI, env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert provider.calls()["total"] >= 1  # the user's base URL was used
    assert done.returncode == 1, done.stdout + done.stderr
    assert "provider failed" in done.stdout and "AuthError" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr and REJECTED not in done.stdout
    assert live_workers(redis.Redis.from_url(user_redis.url)) == []
    assert leftovers(tmp_path) == []


# Its own waits (workers up, into the batch, the exit) can add up to more than the suite's
# 120 s default on a loaded machine (CI run ci10: pytest-timeout fired in the final wait).
@pytest.mark.timeout(400)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_demo_stops_everything(
    user_redis: PrivateRedis, tmp_path: Path, signum: int
) -> None:
    # every job a task (no cache-first answers), so the batch is still being sent at the signal
    env = demo_env(tmp_path, REDIS_URL=user_redis.url, LLMIX_DEMO_JOBS="50000",
                   LLMIX_PRODUCER__CACHE_FIRST="false")  # fmt: skip
    process = subprocess.Popen(CLI, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    client = redis.Redis.from_url(user_redis.url)
    with process:  # its pipes are closed even when a wait fails
        try:
            eventually(lambda: len(live_workers(client)) == 2, "the demo's two workers",
                       timeout_s=120)  # fmt: skip
            # into the batch (50,000 jobs take far longer than this to run): a result beyond
            # the demo's one-job probe
            eventually(lambda: len(list(islice(client.scan_iter("celery-task-meta-*"), 2))) == 2,
                       "the batch's first results")  # fmt: skip
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:  # a failed wait: the demo and its workers go
                process.kill()
                for pid in live_workers(client):  # they would load the rest of the run (ci13)
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
    assert process.returncode == 128 + signum, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert "interrupted" in stdout
    assert live_workers(client) == [] or all(_dead(pid) for pid in live_workers(client))
    assert leftovers(tmp_path) == []
    assert tempfile.gettempdir() != str(tmp_path)  # the test's own process is not redirected


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
