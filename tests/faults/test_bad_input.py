"""Bad input: requests (property-based and hand-picked), JSONL batch files, L2 entries planted
under live keys, settings. Each ends in a clear error or a miss: no worker crash, no retry of
bad input, no other job affected."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docgen.reliability import ScenarioRecord
from llmix_workers.errors import InvalidRequest
from llmix_workers.jobs.job import CompletionJob
from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
from tests.celery.jobs import calls_for, request
from tests.faults.conftest import Record
from tests.faults.support import FAST_ENV, stub_total

pytestmark = [pytest.mark.faults, pytest.mark.timeout(150)]

MAX_ENTRY_BYTES = 4096
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters()),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),  # fmt: skip
    max_leaves=20,
)
FIELDS = ["provider", "model", "messages", "temperature", "providerOptions", "cache", "seed",
          "stopSequences", "responseFormat", "maxOutputTokens", "baseUrl"]  # fmt: skip


@given(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6) | JSON)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_request_parses_or_is_refused_naming_a_field(payload: Any) -> None:
    try:
        CompletionJob.from_payload(payload, max_request_bytes=1_048_576)
    except InvalidRequest as exc:
        assert str(exc) and "\n" not in str(exc)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


BAD_REQUESTS: dict[str, tuple[Any, str]] = {
    "deep providerOptions": ({"providerOptions": nested(600)}, "providerOptions"),
    "NaN temperature": ({"temperature": math.nan}, "temperature"),
    "infinite topP": ({"topP": math.inf}, "topP"),
    "huge string": ({"messages": [{"role": "user", "content": "x" * 2_000_000}]}, "messages"),
    "messages not a list": ({"messages": {"role": "user", "content": "hi"}}, "messages"),
    "wrong type": ({"model": 42}, "model"),
    "lone surrogate role": ({"messages": [{"role": "\ud800", "content": "x"}]}, "role"),
}


@pytest.fixture(scope="module")
def fleet() -> Iterator[LocalFleet]:
    env = {**FAST_ENV, "LLMIX_CACHE__L2_MAX_ENTRY_BYTES": str(MAX_ENTRY_BYTES)}
    with LocalFleet(worker_env=env) as local:
        yield local


@pytest.fixture(scope="module")
def node(fleet: LocalFleet) -> LocalWorker:
    return fleet.add_worker("bad", concurrency=4)


@pytest.fixture(scope="module")
def producer(fleet: LocalFleet) -> CompletionProducer:
    return CompletionProducer(fleet.settings())


def test_bad_requests_on_a_real_worker(
    fleet: LocalFleet, node: LocalWorker, producer: CompletionProducer, record: Record
) -> None:
    assert fleet.stub is not None
    fleet.stub.reset()
    good = [request(f"Good neighbour {n}.") for n in range(3)]
    bad = [{**request("Bad."), **patch} for patch, _ in BAD_REQUESTS.values()]
    outcomes = producer.run_batch([good[0], *bad, good[1], good[2]], validate=False,
                                  timeout_s=60)  # fmt: skip
    bad_outcomes = outcomes[1:-2]
    after = producer.complete(request("Still alive."), timeout_s=30)

    assert [o.ok for o in outcomes] == [True] + [False] * len(bad) + [True, True]
    for (name, (_, field)), outcome in zip(BAD_REQUESTS.items(), bad_outcomes, strict=True):
        assert outcome.error and "InvalidRequest" in outcome.error, (name, outcome.error)
        assert field in outcome.error and "\n" not in outcome.error, (name, outcome.error)
    assert stub_total(fleet) == len(good) + 1  # bad input never reaches the provider
    assert "retry" not in node.log().lower().split("still alive")[0]
    assert after["content"].startswith("Stub answer") and node.process is not None
    assert node.process.poll() is None
    record(
        ScenarioRecord(
            name="bad requests on a real worker",
            family="Bad input",
            injected=", ".join(BAD_REQUESTS) + "; sent unvalidated between good jobs "
            "(plus 300 hypothesis-generated payloads against the parser)",
            promise="each fails at once with an error naming the field; never retried, never "
            "sent to the provider; the good jobs and the worker are unaffected",
            figures={
                "submitted": len(outcomes),
                "completed": 3,
                "failed": len(bad),
                "lost": 0,
                "provider_calls": stub_total(fleet) - 1,
                "duplicated_calls": 0,
            },  # fmt: skip
        )
    )


PLANTED: dict[str, bytes] = {
    "not JSON": b"{not json",
    "data not a string": b'{"data": 5, "cached_at": 1700000000}',
    "a JSON list": b'["data", "x"]',
    "400-digit ttl_s": b'{"data": "x", "cached_at": 1, "ttl_s": 1' + b"0" * 400 + b"}",
    "oversized": b'{"data": "' + b"y" * (MAX_ENTRY_BYTES * 2) + b'", "cached_at": 1}',
    "binary": bytes(range(256)),
}
#: Legal by the contract (legacy milliseconds; non-finite or <= 0 "counts as now"): a hit is right, an error not.
LEGAL = {
    "milliseconds cached_at": b'{"data": "planted", "cached_at": 1700000000000}',
    "negative cached_at": b'{"data": "planted", "cached_at": -5}',
    "infinite cached_at": b'{"data": "planted", "cached_at": 1e999}',
    "future cached_at": b'{"data": "planted", "cached_at": 99999999999}',
}


def test_entries_planted_in_l2_under_live_keys(
    fleet: LocalFleet, node: LocalWorker, producer: CompletionProducer, record: Record
) -> None:
    client = redis.Redis.from_url(fleet.redis_url)
    results: dict[str, Any] = {}
    for name, payload in {**PLANTED, **LEGAL}.items():
        req = request(f"Planted: {name}.")
        key = producer.complete({**req, "cache": "no-store"}, timeout_s=30)["cacheKey"]
        client.set(key, payload, ex=60)
        results[name] = (producer.complete(req, timeout_s=30), calls_for(fleet, req))
    client.close()

    for name in PLANTED:
        output, calls = results[name]
        assert output["cacheHit"] is None and calls == 2, name  # a miss: the provider answered
        assert output["content"].startswith("Stub answer"), name
    for name in LEGAL:
        assert results[name][0]["cacheHit"] in ("l2", None), name
    record(
        ScenarioRecord(
            name="malformed L2 entries under live keys",
            family="Bad input",
            injected="planted in Redis under the key of a request about to run: "
            + ", ".join([*PLANTED, *LEGAL]),
            promise="a malformed entry is a miss (the provider answers), never an error; "
            "legal oddities (milliseconds, negative, infinite or future cached_at) are hits or "
            "misses",
            figures={
                "submitted": len(results),
                "completed": len(results),
                "failed": 0,
                "lost": 0,
            },  # fmt: skip
            notes={name: results[name][0]["cacheHit"] or "miss" for name in LEGAL},
        )
    )


def cli(fleet: LocalFleet, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmix_workers", *args], env=fleet.env(),
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_a_jsonl_batch_with_blank_and_huge_lines(
    fleet: LocalFleet, node: LocalWorker, tmp_path: Path
) -> None:
    import orjson

    lines = [orjson.dumps(request("Line one.")), b"", b"   ",
             orjson.dumps(request("x" * 2_000_000)), orjson.dumps(request("Line four."))]  # fmt: skip
    batch, out = tmp_path / "batch.jsonl", tmp_path / "out.jsonl"
    batch.write_bytes(b"\n".join(lines) + b"\n")
    done = cli(fleet, "enqueue", "--jsonl", str(batch), "--wait", "--output", str(out),
               "--timeout", "60")  # fmt: skip
    written = [orjson.loads(line) for line in out.read_bytes().splitlines()]

    assert "Traceback" not in done.stderr, done.stderr[-1500:]
    # one output line per input line: the blank ones and the huge one fail alone, by line
    assert ["error" in line for line in written] == [False, True, True, True, False]
    assert "bytes is over the limit" in written[3]["error"]


def test_a_jsonl_batch_with_a_non_utf8_byte_fails_that_line_alone(
    fleet: LocalFleet, node: LocalWorker, tmp_path: Path
) -> None:
    import orjson

    batch, out = tmp_path / "batch.jsonl", tmp_path / "out.jsonl"
    batch.write_bytes(orjson.dumps(request("Fine.")) + b"\n" + b'{"bad": "\xff"}\n')
    done = cli(fleet, "enqueue", "--jsonl", str(batch), "--wait", "--output", str(out),
               "--timeout", "60")  # fmt: skip
    assert "Traceback" not in done.stderr and out.is_file()
    written = out.read_bytes().splitlines()
    assert len(written) == 2 and b"error" in written[1]


@pytest.mark.parametrize(
    ("variable", "value", "setting"),
    [
        ("LLMIX_REDIS__URL", "rediss://", "redis.url"),
        ("LLMIX_CACHE__TTL_S", "-1", "cache.ttl_s"),
        ("LLMIX_LLM__TIMEOUT_S", "nan", "llm.timeout_s"),
        ("LLMIX_WORKER__CONCURRENCY", "many", "worker.concurrency"),
        ("LLMIX_FLEET__MEMBER_TTL_S", "0.1", "fleet.member_ttl_s"),
    ],
)
def test_bad_settings_are_a_clear_error(
    fleet: LocalFleet, variable: str, value: str, setting: str
) -> None:
    env = {**fleet.env(), variable: value}
    done = subprocess.run([sys.executable, "-m", "llmix_workers", "settings"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert setting in done.stderr and variable in done.stderr, done.stderr
