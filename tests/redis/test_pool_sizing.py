"""Issue 19: with the default settings, a node of hundreds of threads keeps L2 healthy.

RedisL2 keeps one connection per thread, the fleet lock and the Celery result backend take one
per thread at a time: each pool must hold one for every task thread at once.
"""

from __future__ import annotations

import threading

from llmix_workers.cache.backend import MISS
from llmix_workers.settings import load_settings
from llmix_workers.wiring.cache import build_response_cache
from llmix_workers.wiring.redis import redis_for

THREADS = 200


def test_every_thread_of_a_200_thread_node_reads_and_writes_l2(redis_url: str) -> None:
    settings = load_settings(redis={"url": redis_url}, worker={"concurrency": THREADS})
    cache = build_response_cache(settings)
    assert cache is not None
    fleet = redis_for(settings, "fleet")
    all_in = threading.Barrier(THREADS, timeout=60)
    errors: list[BaseException] = []

    def job(index: int) -> None:
        try:
            key = f"llmix:resp:v2:{index:064x}"
            assert cache.get(key) is MISS
            cache.set(key, f"answer {index}", ttl_s=60)
            with fleet.pipeline() as pipe:  # a pooled connection held while every thread waits
                pipe.get(key)
                all_in.wait()
                pipe.execute()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        stats = cache.stats()
        assert (stats.l2_healthy, stats.l2_errors) == (True, 0)
        assert all(cache.get(f"llmix:resp:v2:{n:064x}") is not MISS for n in range(THREADS))
    finally:
        cache.close()
        fleet.close()
