"""Where a miss's CPU goes, one thread, no Celery: the floor's call, the node's path with and
without Redis. Part of bench/inflight_bench.py (the same stub and Redis, latency 0)."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import urllib3

from llmix_workers.jobs.job import CompletionJob
from llmix_workers.settings import load_settings
from llmix_workers.worker.runtime import WorkerRuntime

MISSES = 200
ROUNDS = 7


def _payloads(tag: str) -> list[dict[str, Any]]:
    return [
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": f"Breakdown {tag}, question {n}."},
            ],
            "temperature": 0.2,
        }
        for n in range(MISSES)
    ]


def _cpu_us(run: Callable[[dict[str, Any]], Any], payloads: list[dict[str, Any]]) -> float:
    started = time.thread_time()
    for payload in payloads:
        run(payload)
    return (time.thread_time() - started) * 1e6 / len(payloads)


def _job(runtime: WorkerRuntime) -> Callable[[dict[str, Any]], Any]:
    return lambda payload: runtime.service.complete(CompletionJob.from_payload(payload))


def breakdown(redis_url: str, stub_url: str) -> dict[str, float]:
    """CPU µs of this thread per miss, median of interleaved rounds: ``floor_call`` (urllib3
    POST + JSON), ``node_no_redis`` (the node's whole path with an L1-only cache: validation,
    key, single flight, breaker, AIMD, provider, output), ``node`` (with L2 and the fleet lock:
    four Redis round trips)."""
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    http = urllib3.PoolManager(maxsize=2)
    chat = f"{stub_url}/v1/chat/completions"
    headers = {"content-type": "application/json", "authorization": "Bearer sk-bench"}

    def floor(payload: dict[str, Any]) -> Any:
        body = orjson.dumps({"model": payload["model"], "messages": payload["messages"]})
        return orjson.loads(http.request("POST", chat, body=body, headers=headers).data)

    llm = {"base_urls": {"openai": f"{stub_url}/v1"}}
    runtimes = {
        name: WorkerRuntime(load_settings(redis={"url": redis_url}, llm=llm, cache=cache),
                            hostname="breakdown@bench")
        for name, cache in (("node_no_redis", {"strategy": "memory"}), ("node", {}))
    }  # fmt: skip
    runs = {"floor_call": floor, **{name: _job(rt) for name, rt in runtimes.items()}}
    samples: dict[str, list[float]] = {name: [] for name in runs}
    try:
        for run in runs.values():  # connections opened, code warm
            _cpu_us(run, _payloads(uuid.uuid4().hex)[:50])
        for _ in range(ROUNDS):
            for name, run in runs.items():
                samples[name].append(_cpu_us(run, _payloads(uuid.uuid4().hex)))
    finally:
        for runtime in runtimes.values():
            runtime.close()
    return {name: round(statistics.median(values), 1) for name, values in samples.items()}
