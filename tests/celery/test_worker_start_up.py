"""A worker's start-up: no thread of ours runs while Celery writes the process environment,
and a metrics port it cannot bind stops it at once with a one-line error.

Celery sets variables (``_MP_FORK_LOGLEVEL_`` and others, in its logging set-up) after
``worker_init``. ``setenv`` may move the environment's array while another thread's C code reads
it with ``getenv`` (glibc's resolver and time zone code do, and libfaketime on every clock read
once its cache expires): that thread crashes. CI's landing of f435215 lost its whole serial
pass to it: a worker under libfaketime died with SIGSEGV in its fleet thread while the main
thread was in ``os.environ.update`` (reproduced: one start in about fifty). The node's threads
(metrics server, fleet membership, provider client) therefore start after Celery's set-up
(a bootstep after the pool's); the first test records every environment write of a real worker and the
threads alive at that moment.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker, WorkerDidNotStart
from llmix_workers.testing.redis_server import free_port

#: ``python -c`` program: log each environment write with the other threads alive, then the CLI.
PROBE = """
import os, sys, threading
log = open(os.environ["PUTENV_LOG"], "a")
real = os.putenv
def putenv(name, value):
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    log.write(f"{os.getpid()} {os.fsdecode(name)} {others}\\n")
    log.flush()
    real(name, value)
os.putenv = putenv
from llmix_workers.cli import main
main()
"""


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_no_thread_of_ours_runs_while_celery_writes_the_environment(
    fleet: LocalFleet, tmp_path: Path, pool: str
) -> None:
    log = tmp_path / "putenv.log"
    fleet.worker_env["PUTENV_LOG"] = str(log)
    try:
        worker = fleet.add_worker(
            f"env-{pool}", pool=pool, concurrency=2, metrics_port=free_port(),
            launcher=[sys.executable, "-c", PROBE],
        )  # fmt: skip
    finally:
        del fleet.worker_env["PUTENV_LOG"]
    try:
        writes = log.read_text().splitlines()
        assert any(" _MP_FORK_LOGLEVEL_ " in line for line in writes), writes  # Celery's set-up
        racing = [line for line in writes if not line.endswith(" []")]
        assert racing == [], f"environment written while other threads ran: {racing}"
    finally:
        worker.stop()
        fleet.workers.remove(worker)


def test_a_taken_metrics_port_stops_the_worker_with_an_error_naming_it(
    fleet: LocalFleet, tmp_path: Path
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        worker = LocalWorker(
            "taken", fleet.env(), fleet.workdir, metrics_port=port, metrics_port_retries=0
        )
        with pytest.raises(WorkerDidNotStart, match=r"status 2"):
            worker.start(timeout_s=60)
    log = worker.log()
    assert f"error: telemetry.metrics_port: cannot serve metrics on 0.0.0.0:{port}" in log, log
    assert "Traceback" not in log


def test_a_test_workers_metrics_port_taken_meanwhile_is_replaced(fleet: LocalFleet) -> None:
    """``free_port()`` chooses a port that another process can bind before the worker does
    (CI ci53, three runs at once): the test worker takes another one, and says which."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        worker = LocalWorker("retaken", fleet.env(), fleet.workdir, metrics_port=port)
        try:
            worker.start(timeout_s=60)
            assert worker.metrics_port not in (0, port)
            with socket.create_connection(("127.0.0.1", worker.metrics_port), timeout=5):
                pass  # the worker serves its metrics there
        finally:
            worker.stop()
