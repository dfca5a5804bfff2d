"""The stub's requests- and tokens-per-minute limits: counted across callers, OpenAI's headers."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter

import httpx
import pytest

from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.stub import StubControl, StubProvider, free_port
from llmix_workers.testing.stub.ratelimit import StubLimits
from llmix_workers.testing.waiting import eventually


def chat(base_url: str, text: str = "hello") -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    return httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=10)


def test_a_bucket_holds_one_second_and_refills() -> None:
    clock = FakeClock()
    limits = StubLimits(rpm=600, clock=clock.clock)
    waits = [limits.charge(1)[0] for _ in range(11)]
    assert waits[:10] == [0.0] * 10
    assert waits[10] == pytest.approx(0.1)
    clock.tick(0.1)
    assert limits.charge(1)[0] == 0.0


def test_tokens_are_charged_by_the_answers_usage() -> None:
    clock = FakeClock()
    limits = StubLimits(tpm=600, clock=clock.clock)  # 10 tokens a second
    assert limits.charge(8)[0] == 0.0
    wait_s, headers = limits.charge(8)
    assert wait_s == pytest.approx(0.6)
    assert headers["retry-after"] == "1" and headers["retry-after-ms"] == "600"
    assert headers["x-ratelimit-limit-tokens"] == "600"
    assert headers["x-ratelimit-remaining-tokens"] == "120"


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="requests per minute"):
        StubLimits(rpm=0)


def test_the_limit_counts_every_caller() -> None:
    with StubProvider(rpm=60, clock=FakeClock().clock) as stub:  # one request, time stopped
        statuses: Counter[int] = Counter()
        lock = threading.Lock()

        def call() -> None:
            status = chat(stub.base_url).status_code
            with lock:
                statuses[status] += 1

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == {200: 1, 429: 7}
        assert stub.calls()["by_outcome"]["429"] == statuses[429]


def test_answers_carry_openai_headers_and_429_a_retry_after() -> None:
    with StubProvider(rpm=60, tpm=6000, clock=FakeClock().clock) as stub:
        ok = chat(stub.base_url)
        assert ok.status_code == 200
        assert ok.headers["x-ratelimit-limit-requests"] == "60"
        assert ok.headers["x-ratelimit-remaining-requests"] == "0"
        assert ok.headers["x-ratelimit-limit-tokens"] == "6000"
        assert ok.headers["x-ratelimit-reset-requests"].endswith("ms")
        refused = chat(stub.base_url)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == 429


def test_limits_are_set_and_lifted_over_http() -> None:
    with StubProvider(clock=FakeClock().clock) as stub:
        control = StubControl(stub.base_url)
        control.script(limits=(60, None))
        assert [chat(stub.base_url).status_code for _ in range(2)] == [200, 429]
        control.script(limits=(None, None))
        assert chat(stub.base_url).status_code == 200
        assert "x-ratelimit-limit-requests" not in chat(stub.base_url).headers


def test_the_cli_takes_rpm_and_tpm() -> None:
    port = free_port()
    command = [sys.executable, "-m", "llmix_workers", "stub-provider", "--port", str(port),
               "--rpm", "60", "--tpm", "100000"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        first = eventually(lambda: chat(base_url), what="the stub answers",
                           ignoring=(httpx.TransportError,))  # fmt: skip
        assert first.headers["x-ratelimit-limit-requests"] == "60"
        assert first.headers["x-ratelimit-limit-tokens"] == "100000"
    finally:
        process.terminate()
        process.wait(10)
