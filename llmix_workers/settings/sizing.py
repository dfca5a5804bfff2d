"""Pool sizes that follow the worker's concurrency, and the check that refuses starving ones.

A worker process runs up to :func:`tasks_per_process` jobs at once: ``worker.concurrency``
threads with the threads pool, one per child with prefork (and with solo). Each of them may hold
an L2 connection (``RedisL2`` keeps one per thread), an HTTP connection to its provider and a
slot of the provider's AIMD window. Left unset, the three sizes follow that number:

- ``redis.max_connections`` = tasks + ``REDIS_SPARE_CONNECTIONS`` (8, in ``sections``);
- ``llm.max_connections`` = tasks (per provider host);
- ``llm.concurrency_initial`` = tasks, at least ``llm.concurrency_min``.

Set below what the tasks need, the first two starve: L2 refuses threads ("Too many
connections", then L2 is marked unhealthy) and calls queue for a connection.
:func:`check_pool_sizes` refuses them when a worker starts. A lower ``concurrency_initial`` is
allowed: it caps the calls in flight on purpose.
"""

from __future__ import annotations

from llmix_workers.errors import ConfigError
from llmix_workers.settings.sections import (
    REDIS_SPARE_CONNECTIONS,
    LLMSettings,
    RedisSettings,
    WorkerSettings,
)


def tasks_per_process(worker: WorkerSettings) -> int:
    """Jobs one worker process runs at once."""
    return worker.concurrency if worker.pool == "threads" else 1


def redis_connections_needed(worker: WorkerSettings) -> int:
    """Redis connections one worker process may hold at once (L2, or the broker's channel)."""
    return tasks_per_process(worker) + REDIS_SPARE_CONNECTIONS


def sized_redis(redis: RedisSettings, worker: WorkerSettings) -> RedisSettings:
    """``redis`` with ``max_connections`` worked out when unset."""
    if redis.max_connections is not None:
        return redis
    return redis.model_copy(update={"max_connections": redis_connections_needed(worker)})


def http_connections(llm: LLMSettings, worker: WorkerSettings | None = None) -> int:
    """``llm.max_connections``, or when unset the task threads of a process of ``worker`` (the
    default worker section if ``None``)."""
    if llm.max_connections is not None:
        return llm.max_connections
    return tasks_per_process(worker or WorkerSettings())


def window_ceiling(llm: LLMSettings, worker: WorkerSettings | None = None) -> int:
    """``llm.concurrency_initial``, or when unset the task threads of a process of ``worker``
    (the default worker section if ``None``), at least ``llm.concurrency_min``."""
    if llm.concurrency_initial is not None:
        return llm.concurrency_initial
    return max(tasks_per_process(worker or WorkerSettings()), llm.concurrency_min)


def sized_llm(llm: LLMSettings, worker: WorkerSettings | None = None) -> LLMSettings:
    """``llm`` with ``max_connections`` and ``concurrency_initial`` worked out when unset."""
    update = {
        "max_connections": http_connections(llm, worker),
        "concurrency_initial": window_ceiling(llm, worker),
    }
    return llm.model_copy(update=update)


def check_pool_sizes(redis: RedisSettings, llm: LLMSettings, worker: WorkerSettings) -> None:
    """Refuse pool sizes set below what a worker process of ``worker`` needs.

    Raises:
        ConfigError: one line naming the pool setting and the worker setting it starves under.
    """
    tasks = tasks_per_process(worker)
    threads = f"worker.concurrency ({worker.concurrency}, {worker.pool} pool)"
    needed = redis_connections_needed(worker)
    if redis.max_connections is not None and redis.max_connections < needed:
        raise ConfigError(
            f"redis.max_connections ({redis.max_connections}) is too small for {threads}: each "
            f"task thread keeps an L2 connection, so it needs {needed} ({tasks} + "
            f"{REDIS_SPARE_CONNECTIONS}); raise it or leave it unset to follow the concurrency"
        )
    if llm.max_connections is not None and llm.max_connections < tasks:
        raise ConfigError(
            f"llm.max_connections ({llm.max_connections}) is too small for {threads}: calls "
            f"would queue for a connection; set at least {tasks} or leave it unset to follow "
            "the concurrency"
        )
