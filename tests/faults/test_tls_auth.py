"""TLS and AUTH: every Redis role (L2, fleet state, broker, results) over ``rediss://`` with an
ACL user, against a private ``redis-server`` with test-made certificates; a wrong password is one
clear error at start-up.

The CA file reaches redis-py and kombu through the URL (``?ssl_ca_certs=…&ssl_cert_reqs=…``),
which both understand; no setting of our own is needed.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from docgen.reliability import ScenarioRecord
from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.testing.redis_server import PrivateRedis, free_port
from tests.celery.jobs import request
from tests.faults.conftest import Record
from tests.faults.support import errors_of

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

USER, USER_PASSWORD = "llmix", f"acl-{uuid.uuid4().hex}"
ADMIN_PASSWORD = f"admin-{uuid.uuid4().hex}"

#: The fleet's default timings (no fault is played here) and Redis round trips allowed 5 s: a
#: worker that cannot prove it is current (a fleet check timed out, so its lease ran out) rightly
#: neither serves nor stores answers, and a TLS Redis shared with a loaded machine can take
#: longer than the 0.25 s default to answer (the likely cause of CI ci58: two identical jobs made
#: two calls).
PATIENT_ENV = {"LLMIX_REDIS__SOCKET_TIMEOUT_S": "5"}


def make_certificates(folder: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 it signed, with the openssl CLI."""
    files = {name: folder / f"{name}.pem" for name in ("ca", "ca-key", "server", "server-key")}
    csr, ext = folder / "server.csr", folder / "san.cnf"
    ext.write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=llmix test CA",
         "-keyout", files["ca-key"], "-out", files["ca"]],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", files["server-key"], "-out", csr],
        ["x509", "-req", "-in", csr, "-CA", files["ca"], "-CAkey", files["ca-key"],
         "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", files["server"]],
    ]  # fmt: skip
    for step in steps:
        subprocess.run(["openssl", *map(str, step)], check=True, capture_output=True)
    return files


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateRedis, str]]:
    certs = make_certificates(tmp_path_factory.mktemp("certs"))
    tls_port = free_port()
    args = [
        "--tls-port", str(tls_port), "--tls-cert-file", str(certs["server"]),
        "--tls-key-file", str(certs["server-key"]), "--tls-ca-cert-file", str(certs["ca"]),
        "--tls-auth-clients", "no", "--requirepass", ADMIN_PASSWORD,
        "--user", USER, "on", f">{USER_PASSWORD}", "~*", "&*", "+@all",
    ]  # fmt: skip
    with PrivateRedis(extra_args=args) as server:
        query = f"ssl_cert_reqs=required&ssl_ca_certs={certs['ca']}"
        yield server, f"rediss://{{user}}:{{password}}@127.0.0.1:{tls_port}/0?{query}"


def test_every_redis_role_over_tls_with_an_acl_user(
    tls_redis: tuple[PrivateRedis, str], record: Record
) -> None:
    url = tls_redis[1].format(user=USER, password=USER_PASSWORD)
    with LocalFleet(redis_url=url, worker_env=PATIENT_ENV) as fleet:
        worker = fleet.add_worker("tls", concurrency=4)
        producer = CompletionProducer(fleet.settings())
        req = request("Over TLS.")
        outcomes = producer.run_batch([req, req], timeout_s=60)
        cli = subprocess.run(
            # every live process must answer; a loaded machine may take longer than the
            # default 5 s to do it over TLS (it returns as soon as all have answered)
            [sys.executable, "-m", "llmix_workers", "cache", "stats", "--json", "--timeout", "60"],
            env=fleet.env(), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        log = worker.log()

    assert errors_of(outcomes) == []
    # the two identical jobs run at once: one calls the provider, the other shares that call
    # (single flight or the fleet lock) or finds its entry, in either input order
    outputs = [o.output or {} for o in outcomes]
    own_calls = [o for o in outputs if o.get("cacheHit") is None and not o.get("coalesced")]
    assert len(own_calls) == 1, _told(outputs, log)
    assert {o.get("cacheHit") for o in outputs if o not in own_calls} <= {None, "l1", "l2"}
    assert cli.returncode == 0 and '"l2Healthy":true' in cli.stdout, cli.stdout + cli.stderr
    record(
        ScenarioRecord(
            name="TLS + ACL user for L2, fleet state, broker and results",
            family="TLS and AUTH",
            injected="redis-server with --tls-port (CA and server certificate made by the "
            "test), requirepass and an ACL user; every role on one rediss:// URL with "
            "ssl_ca_certs/ssl_cert_reqs in its query",
            promise="jobs run, L2 and fleet state work (cache stats answers), nothing else to "
            "configure",
            figures={"submitted": 2, "completed": 2, "failed": 0, "lost": 0},
        )
    )


def _told(outputs: list[dict[str, object]], log: str) -> str:
    """What each job reported and the worker's warnings and cache notes, for a failure."""
    fields = ("cacheHit", "coalesced", "worker", "latencyMs")
    lines = [str({name: out.get(name) for name in fields}) for out in outputs]
    lines += [line for line in log.splitlines()
              if "WARNING" in line or "ERROR" in line or "not stored" in line]  # fmt: skip
    return "\n".join(lines)


@pytest.mark.parametrize(
    "command",
    [
        "worker -n wrong@llmix",
        "cache stats",
    ],
)
def test_a_wrong_password_is_one_clear_error_at_start(
    command: str, tls_redis: tuple[PrivateRedis, str], tmp_path: Path, record: Record
) -> None:
    url = tls_redis[1].format(user=USER, password="wrong")
    with LocalFleet(redis_url=url, stub=False, workdir=tmp_path) as fleet:
        env = fleet.env()
    (tmp_path / "settings.toml").touch()
    result = subprocess.run(
        [sys.executable, "-m", "llmix_workers", *command.split()], env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.strip()]

    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(lines) == 1, lines
    assert "refused the credentials" in lines[0] or "password" in lines[0]
    assert USER_PASSWORD not in result.stderr + result.stdout
    record(
        ScenarioRecord(
            name=f"wrong Redis password: {command.split()[0]}",
            family="TLS and AUTH",
            injected="the TLS Redis above with a wrong password for the ACL user",
            promise=f"`llmix-workers {command}` stops at start-up with one error line, no "
            "traceback, no password shown",
            notes={"error line": lines[0][:200]},
        )
    )
