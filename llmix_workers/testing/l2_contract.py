"""L2BackendContract: the tests every L2 backend passes (subclass it in a ``Test*`` class).

A subclass provides two things: a ``backend`` pytest fixture giving a fresh, empty backend, and
``advance(backend, seconds)`` that lets ``seconds`` pass for that backend's TTLs (a fake clock's
``tick`` for ``MemoryL2``, a real sleep for Redis).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from llmix_workers.cache.backend import MISS, L2Backend


def entry(prefix: str, index: int) -> str:
    """An entry key under ``prefix``: the prefix and a 64-digit lowercase hex digest."""
    return prefix + hashlib.sha256(str(index).encode()).hexdigest()


class L2BackendContract:
    """Behaviour shared by every :class:`~llmix_workers.cache.backend.L2Backend`."""

    def advance(self, backend: Any, seconds: float) -> None:
        raise NotImplementedError

    def test_is_an_enabled_l2_backend(self, backend: L2Backend) -> None:
        assert isinstance(backend, L2Backend)
        assert backend.enabled is True

    def test_missing_key_is_miss_not_none(self, backend: L2Backend) -> None:
        assert backend.get("llmix:resp:v2:absent") is MISS

    def test_set_then_get_returns_the_same_bytes(self, backend: L2Backend) -> None:
        payload = b'{"data":"h\xc3\xa9llo \xf0\x9f\x98\x80","cached_at":1700000000.5}'
        backend.set("llmix:resp:v2:a", payload, 60)
        assert backend.get("llmix:resp:v2:a") == payload

    def test_get_many_answers_in_order_with_misses(self, backend: L2Backend) -> None:
        keys = [entry("llmix:resp:v2:", n) for n in range(2500)]
        for index in range(0, 2500, 3):
            backend.set(keys[index], str(index).encode(), 60)
        found = backend.get_many(keys)
        assert len(found) == 2500
        assert found[0] == b"0" and found[2499] == b"2499" and found[2498] is MISS
        assert sum(value is not MISS for value in found) == 834
        assert backend.get_many([]) == []

    def test_binary_and_large_payloads_survive(self, backend: L2Backend) -> None:
        blob = bytes(range(256)) * 8192  # 2 MiB, every byte value
        backend.set("llmix:resp:v2:big", blob, 60)
        assert backend.get("llmix:resp:v2:big") == blob

    def test_set_overwrites(self, backend: L2Backend) -> None:
        backend.set("k:1", b"first", 60)
        backend.set("k:1", b"second", 60)
        assert backend.get("k:1") == b"second"

    def test_entry_expires_after_its_ttl(self, backend: L2Backend) -> None:
        backend.set("k:short", b"x", 1)
        backend.set("k:long", b"y", 60)
        assert backend.get("k:short") == b"x"
        self.advance(backend, 1.2)
        assert backend.get("k:short") is MISS
        assert backend.get("k:long") == b"y"

    def test_delete_entries_removes_only_that_prefixs_entries(self, backend: L2Backend) -> None:
        for index in range(25):
            backend.set(entry("llmix:resp:v2:", index), b"v", 60)
        backend.set(entry("llmix:resp:", 1), b"keep: a shorter prefix's entry", 60)
        backend.set("llmix:resp:v2:not-a-digest", b"keep", 60)
        backend.set(entry("llmix:resp:v2:", 2) + "0", b"keep: 65 digits", 60)
        backend.set(entry("llmix:resp:v2:", 3).upper(), b"keep: upper case", 60)
        backend.set("celery-task-meta-1", b"keep", 60)
        assert backend.count_entries("llmix:resp:v2:") == 25
        assert backend.delete_entries("llmix:resp:v2:", 7) == 25
        assert backend.get(entry("llmix:resp:v2:", 3)) is MISS
        assert backend.get(entry("llmix:resp:", 1)) != MISS
        for key in ("llmix:resp:v2:not-a-digest", entry("llmix:resp:v2:", 2) + "0",
                    entry("llmix:resp:v2:", 3).upper(), "celery-task-meta-1"):  # fmt: skip
            assert backend.get(key) != MISS, key
        assert backend.count_entries("llmix:resp:v2:") == 0
        assert backend.delete_entries("llmix:resp:v2:", 7) == 0

    def test_a_shorter_prefix_never_reaches_a_longer_ones_entries(self, backend: L2Backend) -> None:
        backend.set(entry("llmix:resp:v2:", 1), b"other deployment", 60)
        backend.set(entry("llmix:resp:", 1), b"mine", 60)
        assert backend.delete_entries("llmix:resp:", 100) == 1
        assert backend.get(entry("llmix:resp:v2:", 1)) == b"other deployment"

    def test_delete_entries_treats_glob_characters_literally(self, backend: L2Backend) -> None:
        backend.set(entry("app[1]*:", 1), b"v", 60)
        backend.set(entry("app1:", 1), b"keep", 60)
        backend.set(entry("app]:", 1), b"keep", 60)
        assert backend.delete_entries("app[1]*:", 100) == 1
        assert backend.get(entry("app1:", 1)) == b"keep"
        assert backend.get(entry("app]:", 1)) == b"keep"

    def test_many_threads_read_their_own_writes(self, backend: L2Backend) -> None:
        errors: list[str] = []

        def worker(thread: int) -> None:
            for index in range(50):
                key = entry(f"t{thread}:", index)
                backend.set(key, key.encode(), 60)
                if backend.get(key) != key.encode():
                    errors.append(key)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sum(backend.count_entries(f"t{n}:") for n in range(8)) == 400
