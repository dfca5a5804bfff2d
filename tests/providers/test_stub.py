"""The stub itself: control endpoints, exact counts under concurrency, rate faults, the CLI."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from llmix_workers.testing.stub import StubControl, StubProvider, free_port, request_digest
from llmix_workers.testing.stub.answers import call_of

HELLO = [{"role": "user", "content": "hello"}]


def chat(client: httpx.Client, base_url: str, text: str = "hello") -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    return client.post(f"{base_url}/v1/chat/completions", json=body)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def test_control_endpoints_over_http(stub: StubProvider, http: httpx.Client) -> None:
    control = StubControl(stub.base_url)
    control.script(503, "429=2", latency_ms=1)
    statuses = [chat(http, stub.base_url).status_code for _ in range(3)]
    assert statuses == [503, 429, 200]
    calls = control.calls()
    assert calls["total"] == 3
    assert calls["by_digest"] == {request_digest("m", HELLO): 3}
    assert calls["by_outcome"] == {"503": 1, "429": 1, "ok": 1}
    assert [r["body"]["model"] for r in control.requests()] == ["m", "m", "m"]
    control.reset()
    assert control.calls() == {
        "total": 0,
        "by_path": {},
        "by_digest": {},
        "by_model": {},
        "by_key": {},
        "by_outcome": {},
    }


def test_429_carries_retry_after_and_rate_limit_headers(
    stub: StubProvider, http: httpx.Client
) -> None:
    response = chat(http, stub.base_url, "[[stub:429=7]]")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-limit-requests"] == "500"
    assert response.json()["error"]["type"] == "rate_limit_error"


def test_bad_script_and_unknown_path_are_refused(stub: StubProvider, http: httpx.Client) -> None:
    bad = http.post(f"{stub.base_url}/_stub/script", json={"faults": ["explode"]})
    assert bad.status_code == 400
    assert "explode" in bad.json()["error"]["message"]
    assert http.post(f"{stub.base_url}/v2/other", json={}).status_code == 404
    assert stub.calls()["total"] == 0


def test_counts_are_exact_under_concurrency(stub: StubProvider) -> None:
    threads, per_thread = 32, 10
    statuses: list[int] = []
    lock = threading.Lock()

    def work(client: httpx.Client, index: int) -> None:
        for turn in range(per_thread):
            status = chat(client, stub.base_url, f"thread {index % 4} turn {turn % 2}").status_code
            with lock:
                statuses.append(status)

    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=threads)) as client:
        workers = [threading.Thread(target=work, args=(client, i)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    calls = stub.calls()
    assert statuses == [200] * threads * per_thread
    assert calls["total"] == threads * per_thread
    assert sum(calls["by_digest"].values()) == threads * per_thread
    assert len(calls["by_digest"]) == 8
    assert set(calls["by_digest"].values()) == {threads * per_thread // 8}


def test_rate_faults_follow_the_seed() -> None:
    with StubProvider(fault_rate=0.3, rate_fault="500", seed=42) as stub, httpx.Client() as http:
        statuses = [chat(http, stub.base_url).status_code for _ in range(50)]
    draw = random.Random(42)
    expected = [500 if draw.random() < 0.3 else 200 for _ in range(50)]
    assert statuses == expected
    assert 0 < statuses.count(500) < 50


def test_keep_alive_serves_many_requests_on_one_connection(
    stub: StubProvider, http: httpx.Client
) -> None:
    responses = [chat(http, stub.base_url) for _ in range(20)]
    assert {r.http_version for r in responses} == {"HTTP/1.1"}
    assert all("close" not in r.headers.get("connection", "") for r in responses)
    assert stub.calls()["total"] == 20


def test_cli_serves_until_terminated() -> None:
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from llmix_workers.cli import main; main()",
        "stub-provider",
        "--port",
        str(port),
        "--latency-ms",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(f"stub provider listening on http://127.0.0.1:{port}")
        control = StubControl(f"http://127.0.0.1:{port}")
        with httpx.Client(timeout=10) as http:
            assert chat(http, control.base_url).json()["object"] == "chat.completion"
        assert control.calls()["total"] == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_cli_refuses_a_busy_port(stub: StubProvider) -> None:
    command = [
        sys.executable,
        "-c",
        "from llmix_workers.cli import main; main()",
        "stub-provider",
        "--port",
        str(stub.port),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{stub.port}" in done.stderr


def test_a_body_that_is_not_an_object_is_a_400(stub: StubProvider, http: httpx.Client) -> None:
    response = http.post(f"{stub.base_url}/v1/messages", json=["not", "an", "object"])
    assert response.status_code == 400
    assert stub.calls()["total"] == 0


def test_traced_calls_are_numbered_logged_and_named_in_the_answer(http: httpx.Client) -> None:
    with StubProvider(trace=True) as traced:
        before = time.time()
        texts = [chat(http, traced.base_url, text).json()["choices"][0]["message"]["content"]
                 for text in ("one", "two", "one")]  # fmt: skip
        after = time.time()
        log = traced.trace()
        assert StubControl(traced.base_url).trace() == log
    assert [call_of(text) for text in texts] == [1, 2, 3]
    assert len(set(texts)) == 3  # the same request twice still gets two different answers
    assert [entry["call"] for entry in log] == [1, 2, 3]
    assert all(before <= entry["at"] <= after for entry in log)
    assert [entry["at"] for entry in log] == sorted(entry["at"] for entry in log)
    assert {entry["client"] for entry in log} == {"127.0.0.1"}
    assert log[0]["digest"] == log[2]["digest"] != log[1]["digest"]


def test_untraced_answers_carry_no_call_number(stub: StubProvider, http: httpx.Client) -> None:
    text = chat(http, stub.base_url).json()["choices"][0]["message"]["content"]
    assert call_of(text) is None
    assert stub.trace() == []
