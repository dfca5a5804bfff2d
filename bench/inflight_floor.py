"""The floor of bench/inflight_bench.py: plain Celery, one urllib3 call per task, no llmix code.

``celery -A inflight_floor worker -P <pool> -c <C>`` with the environment naming the Redis
(``FLOOR_REDIS_URL``: broker and results, as a node uses it) and the provider's chat URL
(``FLOOR_CHAT_URL``). The delivery settings are those ``create_app`` gives a node (late
acknowledgement, the same prefetch), so the two differ only by what a task does.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
import urllib3
from celery import Celery

REDIS_URL = os.environ.get("FLOOR_REDIS_URL", "redis://127.0.0.1:6379/0")
CHAT_URL = os.environ.get("FLOOR_CHAT_URL", "http://127.0.0.1:8099/v1/chat/completions")
TASK_FLOOR = "floor.call"

app = Celery("inflight_floor", broker=REDIS_URL, backend=REDIS_URL, set_as_current=False)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=int(os.environ.get("FLOOR_PREFETCH", "4")),
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    broker_pool_limit=None,
    # kombu's Redis channel pool (10 by default) must hold an ack from every slot at once.
    broker_transport_options={"max_connections": int(os.environ.get("FLOOR_POOL_SIZE", "1024"))},
    redis_max_connections=None,
)
# One pool for the process, as big as the worker's concurrency (set by the bench).
http = urllib3.PoolManager(
    maxsize=int(os.environ.get("FLOOR_POOL_SIZE", "1024")),
    block=False,
    timeout=urllib3.Timeout(connect=5, read=60),
    retries=False,
)


@app.task(name=TASK_FLOOR, acks_late=True)  # type: ignore[untyped-decorator]
def call(payload: dict[str, Any]) -> str:
    """One chat completion: POST, read the JSON, return the answer's text."""
    body = orjson.dumps({"model": payload["model"], "messages": payload["messages"]})
    response = http.request(
        "POST",
        CHAT_URL,
        body=body,
        headers={"content-type": "application/json", "authorization": "Bearer sk-floor"},
    )
    if response.status != 200:
        raise RuntimeError(f"provider answered {response.status}")
    text: str = orjson.loads(response.data)["choices"][0]["message"]["content"]
    return text
