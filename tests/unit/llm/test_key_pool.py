from __future__ import annotations

import threading

import pytest

from llmix_workers.errors import AuthError
from llmix_workers.llm.key_pool import KeyPool
from llmix_workers.settings import LLMSettings
from tests.llm_support import SECOND_KEY, SECRET_KEY

COOLOFF_S = LLMSettings().key_cooloff_s


def test_comma_separated_value_is_a_pool_in_order() -> None:
    pool = KeyPool.parse(
        f" {SECRET_KEY} ,{SECOND_KEY},,{SECRET_KEY}", provider="openai", cooloff_s=COOLOFF_S
    )
    assert len(pool) == 2
    assert pool.select() == SECRET_KEY


def test_rotate_moves_to_the_next_key_once_per_429() -> None:
    pool = KeyPool(["a", "b", "c"], provider="p", cooloff_s=COOLOFF_S)
    pool.rotate("a")
    pool.rotate("a")  # a second thread seeing the same 429 does not skip "b"
    assert pool.select() == "b"


def test_retired_keys_are_skipped_until_none_is_left() -> None:
    pool = KeyPool(["a", "b"], provider="p", cooloff_s=COOLOFF_S)
    pool.retire("a")
    assert pool.select() == "b"
    assert pool.alive == 1
    pool.retire("b")
    with pytest.raises(AuthError, match="every API key for p"):
        pool.select()


def test_no_key_at_all_is_an_auth_error() -> None:
    with pytest.raises(AuthError, match="no API key for p"):
        KeyPool.parse(" , ", provider="p", cooloff_s=COOLOFF_S)


def test_keys_stay_out_of_repr_and_redacted_text() -> None:
    pool = KeyPool([SECRET_KEY, SECOND_KEY], provider="openai", cooloff_s=COOLOFF_S)
    pool.retire(SECOND_KEY)
    assert SECRET_KEY not in repr(pool)
    text = pool.redact(f"bad key {SECOND_KEY} and {SECRET_KEY}!")
    assert text == "bad key [redacted] and [redacted]!"


def test_concurrent_rotation_always_hands_out_a_live_key() -> None:
    pool = KeyPool([f"k{i}" for i in range(5)], provider="p", cooloff_s=COOLOFF_S)
    pool.retire("k2")
    seen: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(200):
            key = pool.select()
            pool.rotate(key)
            with lock:
                seen.append(key)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 1600
    assert "k2" not in seen
    assert set(seen) == {"k0", "k1", "k3", "k4"}
