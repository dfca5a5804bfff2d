from __future__ import annotations

import pytest

from llmix_workers.cache.backends.memory import MemoryL2
from llmix_workers.errors import L2Unavailable
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.l2_contract import L2BackendContract


class TestMemoryL2(L2BackendContract):
    @pytest.fixture
    def backend(self) -> MemoryL2:
        return MemoryL2(clock=FakeClock())

    def advance(self, backend: MemoryL2, seconds: float) -> None:
        backend._clock.tick(seconds)  # type: ignore[attr-defined]


def test_memory_l2_down_raises_l2_unavailable() -> None:
    backend = MemoryL2()
    backend.set("k", b"v", 10)
    backend.down = True
    with pytest.raises(L2Unavailable):
        backend.get("k")
    with pytest.raises(L2Unavailable):
        backend.set("k", b"v", 10)
    backend.down = False
    assert backend.get("k") == b"v"
