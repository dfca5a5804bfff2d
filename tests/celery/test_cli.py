"""The command line against real workers (issue 14; issue 11 defect 5): ids and results,
revoke and purge, Ctrl-C, a worker-less queue, shared calls, failures with worker names,
key problems in ``workers``, and a result backend restarted while ``enqueue --wait`` collects."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.testing.waiting import eventually
from llmix_workers.worker.app import create_app
from tests.celery.jobs import request

CLI = [sys.executable, "-m", "llmix_workers"]
REJECTED_KEY = "sk-test-REJECTED-000000000000000"


@pytest.fixture(scope="module")
def cli_fleet(fleet: LocalFleet) -> LocalFleet:
    fleet.add_worker("c1", concurrency=8, queues="llmix")
    return fleet


def env_for(fleet: LocalFleet, queue: str = "llmix", **extra: str) -> dict[str, str]:
    return fleet.env() | {"LLMIX_WORKER__QUEUE": queue, **extra}


def run(
    fleet: LocalFleet, *args: str, queue: str = "llmix", **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env_for(fleet, queue, **extra), cwd=fleet.workdir,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def write_batch(path: Path, lines: Sequence[dict[str, Any] | str]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                            for line in lines))  # fmt: skip
    return path


def stub_calls(fleet: LocalFleet) -> int:
    assert fleet.stub is not None
    return int(fleet.stub.calls()["total"])


def wait_until_polling_for(redis_url: str, count: int, timeout_s: float = 60.0) -> None:
    """Wait until a result poll (one MGET of ``celery-task-meta-*`` keys: only ``enqueue
    --wait`` sends those) asks for exactly ``count`` results, so it holds every other one."""
    client = redis.Redis.from_url(redis_url, socket_timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    try:
        with client.monitor() as monitor:  # type: ignore[no-untyped-call]
            for event in monitor.listen():
                command = str(event["command"])
                if command.startswith("MGET ") and command.count("celery-task-meta-") == count:
                    return
                if time.monotonic() > deadline:
                    break
    finally:
        client.close()
    raise AssertionError(f"no result poll for exactly {count} results within {timeout_s:g} s")


def read_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_identical_jobs_show_up_as_shared_in_the_json_summary(
    cli_fleet: LocalFleet, tmp_path: Path
) -> None:
    req = request("Shared [[stub:slow=1500]]")
    batch = write_batch(tmp_path / "jobs.jsonl", [req] * 12)
    out = tmp_path / "out.jsonl"
    done = run(
        cli_fleet, "enqueue", "--jsonl", str(batch), "--wait", "--output", str(out), "--json"
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["jobs"] == 12 and summary["failures"] == 0
    assert summary["providerCalls"] == 1
    assert summary["shared"] >= 1
    assert summary["shared"] + summary["l1Hits"] + summary["l2Hits"] == 11
    lines = read_lines(out)
    assert len(lines) == 12 and all(line["worker"] == "c1@llmix" for line in lines)


def test_ids_now_results_later_one_line_per_input_line(
    cli_fleet: LocalFleet, tmp_path: Path
) -> None:
    batch = write_batch(tmp_path / "jobs.jsonl", [request("a"), "", request("b"), "{not json"])
    ids = tmp_path / "ids.txt"
    sent = run(cli_fleet, "enqueue", "--jsonl", str(batch), "--ids", str(ids))
    assert sent.returncode == 1, sent.stderr  # two lines were not sent
    assert "line 2 not sent" in sent.stderr and "line 4 not sent" in sent.stderr
    id_lines = ids.read_text().splitlines()
    assert len(id_lines) == 4 and id_lines[0] and not id_lines[1] and id_lines[2]
    out = tmp_path / "out.jsonl"
    got = run(cli_fleet, "results", "--ids", str(ids), "--output", str(out), "--timeout", "60")
    lines = read_lines(out)
    assert len(lines) == 4
    assert lines[0]["content"] and lines[2]["content"]
    assert lines[1]["errorType"] == "NotSent" and lines[3]["errorType"] == "NotSent"
    assert got.returncode == 1  # the lines that were never sent count as failures


def test_purge_empties_a_queue_no_worker_consumes(cli_fleet: LocalFleet, tmp_path: Path) -> None:
    batch = write_batch(tmp_path / "jobs.jsonl", [request("p1"), request("p2"), request("p3")])
    sent = run(cli_fleet, "enqueue", "--jsonl", str(batch), queue="nobody-purge")
    assert sent.returncode == 0, sent.stderr
    assert len(sent.stdout.split()) == 3  # the task ids
    purged = run(cli_fleet, "purge", "--yes", queue="nobody-purge")
    assert purged.returncode == 0, purged.stderr
    assert "purged 3 waiting jobs" in purged.stdout
    again = run(cli_fleet, "purge", "--yes", queue="nobody-purge")
    assert "purged 0 waiting jobs" in again.stdout


def test_revoked_jobs_are_skipped(cli_fleet: LocalFleet, tmp_path: Path) -> None:
    # r1 is alive (so the revoke reaches it) but consumes "rq" only once the revoke is in:
    # no race between the revoke and the jobs it names, however slow the machine
    r1 = cli_fleet.add_worker("r1", concurrency=1, queues="rq-later")
    try:
        reqs = [request("first"), request("second"), request("third")]
        ids = tmp_path / "ids.txt"
        sent = run(cli_fleet, "enqueue", "--jsonl", str(write_batch(tmp_path / "j", reqs)),
                   "--ids", str(ids), queue="rq")  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        later = ids.read_text().splitlines()[1:]
        keep_first = tmp_path / "later.txt"
        keep_first.write_text("\n" + "\n".join(later) + "\n")
        revoked = run(cli_fleet, "revoke", "--ids", str(keep_first), queue="rq")
        assert revoked.returncode == 0 and "revoked 2 jobs" in revoked.stdout, revoked.stderr
        eventually(lambda: all(task_id in flagged_revoked(r1) for task_id in later),
                   "r1 holds the revoked ids")  # fmt: skip
        app = create_app(cli_fleet.settings())
        replies = app.control.add_consumer("rq", destination=[r1.hostname], reply=True)
        assert replies and "ok" in replies[0][r1.hostname], replies
        out = tmp_path / "out.jsonl"
        run(cli_fleet, "results", "--ids", str(ids), "--output", str(out), "--timeout", "60",
            queue="rq")  # fmt: skip
        lines = read_lines(out)
        assert "content" in lines[0]
        assert [line.get("errorType") for line in lines[1:]] == ["Revoked", "Revoked"]
    finally:
        cli_fleet.workers[-1].stop()
        cli_fleet.workers.pop()


def flagged_revoked(worker: LocalWorker) -> str:
    """The task ids ``worker`` logged as revoked so far."""
    return " ".join(line for line in worker.log().splitlines() if "flagged as revoked" in line)


def test_a_queue_without_live_worker_is_reported_within_the_wait(cli_fleet: LocalFleet) -> None:
    done = run(cli_fleet, "enqueue", "hello", "--wait", "--timeout", "5", queue="nobody-listens")
    assert done.returncode == 1
    assert "no live worker consumes queue 'nobody-listens'" in done.stderr
    line = json.loads(done.stdout)
    assert line["errorType"] == "Timeout" and "no result within 5 s" in line["error"]


def test_ctrl_c_writes_what_it_has_and_says_how_to_revoke_the_rest(
    cli_fleet: LocalFleet, tmp_path: Path
) -> None:
    assert cli_fleet.stub is not None
    cli_fleet.stub.reset()
    quick = [request(f"quick {i}") for i in range(4)]
    slow = [request(f"slow {i} [[stub:slow=6000]]") for i in range(2)]
    batch = write_batch(tmp_path / "jobs.jsonl", [*quick, *slow])
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [*CLI, "enqueue", "--jsonl", str(batch), "--wait", "--output", str(out)],
        env=env_for(cli_fleet), cwd=cli_fleet.workdir, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    eventually(lambda: stub_calls(cli_fleet) == 6, "6 provider calls")
    wait_until_polling_for(cli_fleet.redis_url, 2)  # the 4 quick answers are in the CLI's hands
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    lines = read_lines(out)
    assert len(lines) == 6
    assert all("content" in line for line in lines[:4])
    assert [line["errorType"] for line in lines[4:]] == ["Interrupted", "Interrupted"]
    assert "2 jobs are still queued or running" in stderr
    pending = Path(f"{out}.pending-ids")
    assert f"llmix-workers revoke --ids {pending}" in stderr
    assert [line for line in pending.read_text().splitlines() if line] == [
        line["taskId"] for line in lines[4:]
    ]


@contextmanager
def rejected_key_worker(fleet: LocalFleet, name: str, queue: str, cooloff_s: str) -> Iterator[None]:
    """A worker on ``queue`` whose OpenAI key the stub rejects, set aside for ``cooloff_s``."""
    assert fleet.stub is not None
    fleet.stub.script(reject_keys=[REJECTED_KEY])
    fleet.worker_env.update(OPENAI_API_KEY=REJECTED_KEY, LLMIX_LLM__KEY_COOLOFF_S=cooloff_s)
    try:
        fleet.add_worker(name, concurrency=2, queues=queue)
    finally:
        del fleet.worker_env["OPENAI_API_KEY"], fleet.worker_env["LLMIX_LLM__KEY_COOLOFF_S"]
    try:
        yield
    finally:
        fleet.stub.script(reject_keys=[])
        fleet.workers[-1].stop()
        fleet.workers.pop()


def key_problem_of(fleet: LocalFleet, node: str) -> str | None:
    view = run(fleet, "workers", "--json")
    rows = {row["node"]: row for row in json.loads(view.stdout)["processes"]}
    problem = rows[node].get("keyProblem")
    return None if problem is None else str(problem)


def test_failures_name_their_worker_and_workers_shows_the_key_problem(
    cli_fleet: LocalFleet, tmp_path: Path
) -> None:
    # a cool-off far longer than the test: the views below run while the key is set aside,
    # however slowly the machine starts each command
    with rejected_key_worker(cli_fleet, "k1", "keys", cooloff_s="600"):
        batch = write_batch(tmp_path / "jobs.jsonl", [request("k a"), request("k b")])
        out = tmp_path / "out.jsonl"
        done = run(cli_fleet, "enqueue", "--jsonl", str(batch), "--wait", "--output", str(out),
                   queue="keys")  # fmt: skip
        assert done.returncode == 1
        lines = read_lines(out)
        assert [line["errorType"] for line in lines] == ["AuthError", "AuthError"]
        assert {line["worker"] for line in lines} == {"k1@llmix"}
        assert "AuthError 2" in done.stderr and REJECTED_KEY not in done.stderr + done.stdout
        view = run(cli_fleet, "workers", "--json")
        assert view.returncode == 1, view.stderr
        rows = {row["node"]: row for row in json.loads(view.stdout)["processes"]}
        assert "openai" in rows["k1@llmix"]["keyProblem"]
        assert rows["k1@llmix"]["pool"] == "threads" and rows["k1@llmix"]["concurrency"] == 2
        assert "keyProblem" not in rows["c1@llmix"]
        assert REJECTED_KEY not in view.stdout
        table = run(cli_fleet, "workers")
        assert "no usable API key for openai" in table.stdout and "threads" in table.stdout
        assert REJECTED_KEY not in table.stdout + table.stderr


def test_a_rejected_key_is_tried_again_after_its_cooloff(cli_fleet: LocalFleet) -> None:
    assert cli_fleet.stub is not None
    with rejected_key_worker(cli_fleet, "k2", "keys2", cooloff_s="1"):
        failed = run(cli_fleet, "enqueue", "k d", "--wait", queue="keys2")
        assert failed.returncode == 1 and "AuthError" in failed.stdout + failed.stderr
        cli_fleet.stub.script(reject_keys=[])
        # the worker reports the key usable again once its cool-off is over...
        eventually(lambda: key_problem_of(cli_fleet, "k2@llmix") is None, "k2's key usable again")
        # ...and it is: the next job gets an answer with it
        again = run(cli_fleet, "enqueue", "k c", "--wait", queue="keys2")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["worker"] == "k2@llmix"


@pytest.fixture
def results_redis() -> Iterator[PrivateRedis]:
    with PrivateRedis() as server:
        yield server


def test_a_result_backend_restart_during_the_wait_loses_no_line(
    cli_fleet: LocalFleet, results_redis: PrivateRedis, tmp_path: Path
) -> None:
    assert cli_fleet.stub is not None
    cli_fleet.stub.reset()
    backend = {"LLMIX_WORKER__RESULT_BACKEND": results_redis.url}
    cli_fleet.worker_env.update(backend)
    try:
        cli_fleet.add_worker("b1", concurrency=8, queues="rb")
    finally:
        del cli_fleet.worker_env["LLMIX_WORKER__RESULT_BACKEND"]
    try:
        reqs = [request(f"restart {i} [[stub:slow=4000]]") for i in range(6)]
        out = tmp_path / "out.jsonl"
        process = subprocess.Popen(
            [*CLI, "enqueue", "--jsonl", str(write_batch(tmp_path / "j", reqs)), "--wait",
             "--output", str(out), "--timeout", "90"],
            env=env_for(cli_fleet, "rb", **backend), cwd=cli_fleet.workdir,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        eventually(lambda: stub_calls(cli_fleet) == 6, "6 provider calls")
        results_redis.stop()  # while every job is still at the provider
        time.sleep(1.0)
        results_redis.start()
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        lines = read_lines(out)
        assert len(lines) == 6 and all("content" in line for line in lines), lines
    finally:
        cli_fleet.workers[-1].stop()
        cli_fleet.workers.pop()
