"""RedisBudgets on a private redis-server: one budget shared by every process, reservations,
token corrections, a budget per model, the fleet-wide shrink on 429, the Redis-down fallback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from llmix_workers.fleet.budget import RedisBudgets
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.settings import Settings
from llmix_workers.settings.sections import Budget
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.testing.relay import TcpRelay
from llmix_workers.testing.waiting import eventually
from llmix_workers.wiring.budgets import build_budgets
from tests.redis.fleet_seats import client_via

KEYS = FleetKeys.for_prefix("llmix:resp:v2:")


class Seen:
    """A BudgetObserver that writes everything down."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, bool]] = []

    def drew(self, budget: str, tokens: int, wait_s: float, *, local: bool) -> None:
        self.events.append(("drew", budget, local))

    def refused(self, budget: str, wait_s: float, *, local: bool) -> None:
        self.events.append(("refused", budget, local))

    def shrunk(self, budget: str) -> None:
        self.events.append(("shrunk", budget, False))


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    yield client
    client.close()


def budgets(client: redis.Redis, observer: Seen | None = None, **options: Any) -> RedisBudgets:
    limits = options.pop("budgets", {"openai": Budget(rpm=6)})
    settings: dict[str, Any] = {"burst_s": 0.5, "recovery_s": 60.0, "member_ttl_s": 5.0}
    settings.update(options)
    return RedisBudgets(client, KEYS, limits, observer=observer, **settings)


def test_two_processes_draw_from_one_budget(client: redis.Redis) -> None:
    first, second = budgets(client), budgets(client)
    assert first.draw("openai", "m", 10, max_wait_s=0).granted
    refused = second.draw("openai", "m", 10, max_wait_s=0)
    assert not refused.granted
    assert refused.wait_s > 5  # the next turn is 10 s after the first, less the burst


def test_a_draw_over_budget_reserves_a_later_turn(client: redis.Redis) -> None:
    shared = budgets(client)
    waits = [shared.draw("openai", "m", 10, max_wait_s=60).wait_s for _ in range(3)]
    assert waits[0] == 0
    assert 0 < waits[1] < waits[2]


def test_no_budget_no_draw(client: redis.Redis) -> None:
    draw = budgets(client).draw("anthropic", "claude", 10, max_wait_s=0)
    assert draw.granted and draw.budget is None
    assert client.keys("*") == []


def test_a_model_budget_is_apart_from_its_providers(client: redis.Redis) -> None:
    limits = {"openai": Budget(rpm=1), "openai/gpt-4o": Budget(rpm=1)}
    shared = budgets(client, budgets=limits)
    assert shared.budget_for("openai", "gpt-4o") == "openai/gpt-4o"
    assert shared.budget_for("openai", "gpt-4o-mini") == "openai"
    assert shared.draw("openai", "gpt-4o", 10, max_wait_s=0).granted
    assert shared.draw("openai", "gpt-4o-mini", 10, max_wait_s=0).granted
    assert not shared.draw("openai", "gpt-4o", 10, max_wait_s=0).granted
    assert not shared.draw("openai", "o1", 10, max_wait_s=0).granted


def test_tokens_are_corrected_from_the_reported_usage(client: redis.Redis) -> None:
    limits = {"openai": Budget(tpm=600)}  # 0.1 s a token
    corrected, uncorrected = budgets(client, budgets=limits), budgets(client, budgets=limits)
    first = corrected.draw("openai", "m", 100, max_wait_s=60)
    assert first.granted and first.wait_s == 0
    first.settle(10)  # 90 tokens fewer than estimated: 9 s given back with the next draw
    assert corrected.draw("openai", "m", 10, max_wait_s=60).wait_s < 5
    client.delete(KEYS.budget("openai"))
    uncorrected.draw("openai", "m", 100, max_wait_s=60)
    assert uncorrected.draw("openai", "m", 10, max_wait_s=60).wait_s > 5


def test_a_429_shrinks_the_budget_for_everyone_and_it_recovers(client: redis.Redis) -> None:
    seen = Seen()
    limits = {"openai": Budget(rpm=6000)}
    saw_429, other = (
        budgets(client, seen, budgets=limits, recovery_s=1.0),
        budgets(client, budgets=limits, recovery_s=1.0),
    )
    draw = saw_429.draw("openai", "m", 10, max_wait_s=0)
    assert draw.granted and draw.factor == 1
    draw.shrink(retry_after_s=30)
    assert ("shrunk", "openai", False) in seen.events
    held = other.draw("openai", "m", 10, max_wait_s=0)
    assert not held.granted and held.wait_s > 20  # everyone waits out the retry-after
    assert held.factor < 1
    client.hset(KEYS.budget("openai"), "paused", "0")  # lift the pause, keep the shrink
    assert eventually(lambda: other.draw("openai", "m", 10, max_wait_s=1).factor == 1,
                      what="the budget grows back")  # fmt: skip


def test_429s_of_one_overshoot_halve_the_budget_once(client: redis.Redis) -> None:
    shared = budgets(client, budgets={"openai": Budget(rpm=6000)}, recovery_s=3600.0)
    draw = shared.draw("openai", "m", 10, max_wait_s=0)
    for _ in range(5):
        draw.shrink(retry_after_s=0)
    assert float(client.hget(KEYS.budget("openai"), "factor") or 0) == 0.5


def test_headers_saying_nothing_is_left_hold_everyone_without_halving(
    client: redis.Redis,
) -> None:
    limits = {"openai": Budget(rpm=6000)}
    first, other = budgets(client, budgets=limits), budgets(client, budgets=limits)
    first.draw("openai", "m", 10, max_wait_s=0).hold(30)
    held = other.draw("openai", "m", 10, max_wait_s=0)
    assert not held.granted and held.wait_s > 20
    assert held.factor == 1


@pytest.fixture
def relay(redis_server: PrivateRedis, redis_url: str) -> Iterator[TcpRelay]:
    with TcpRelay("127.0.0.1", redis_server.port) as relay:
        yield relay


def join(client: redis.Redis, members: int) -> None:
    now_s, now_us = client.time()
    score = now_s * 1000 + now_us // 1000
    client.zadd(KEYS.members, {f"node{n}|{n}": score for n in range(members)})


def test_redis_down_each_process_keeps_to_its_share(client: redis.Redis, relay: TcpRelay) -> None:
    seen = Seen()
    join(client, 4)
    # 60 a minute, bursts of 10 s: the whole budget would grant 11 calls at once; a quarter
    # of it (15 a minute) grants 3.
    shared = budgets(client_via(relay), seen, budgets={"openai": Budget(rpm=60)}, burst_s=10.0)
    assert shared.draw("openai", "m", 10, max_wait_s=0).granted  # Redis answers: 4 members
    client.delete(KEYS.budget("openai"))
    relay.cut()
    granted = [shared.draw("openai", "m", 10, max_wait_s=0).granted for _ in range(12)]
    assert granted.count(True) == 3
    assert granted[:3] == [True, True, True]
    local = [event for event in seen.events if event[2]]
    assert len(local) == 12


def test_redis_down_before_any_answer_takes_nothing(relay: TcpRelay) -> None:
    relay.cut()
    shared = budgets(client_via(relay), budgets={"openai": Budget(rpm=60_000)})
    refused = shared.draw("openai", "m", 10, max_wait_s=5)
    assert not refused.granted and refused.wait_s > 0


def test_the_wiring_builds_budgets_on_the_budget_role(redis_url: str, client: redis.Redis) -> None:
    settings = Settings(redis={"url": redis_url}, llm={"budgets": {"openai": {"rpm": 6}}})
    built = build_budgets(settings)
    assert built is not None
    assert built.draw("openai", "m", 10, max_wait_s=0).granted
    assert client.exists(KEYS.budget("openai"))
    assert build_budgets(Settings(redis={"url": redis_url})) is None


def test_budgets_without_redis_are_refused_at_wiring() -> None:
    from llmix_workers.errors import ConfigError

    with pytest.raises(ConfigError, match=r"llm\.budgets needs"):
        build_budgets(Settings(llm={"budgets": {"openai": {"rpm": 6}}}))


def calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(stat["calls"]) for name, stat in stats.items()}


def test_one_draw_is_one_round_trip(client: redis.Redis) -> None:
    shared = budgets(client, budgets={"openai": Budget(rpm=10**8, tpm=10**9)})
    shared.draw("openai", "m", 10, max_wait_s=0)  # loads the script
    before = calls(client)
    for _ in range(20):
        shared.draw("openai", "m", 10, max_wait_s=0).settle(7)
    after = calls(client)
    sent = {name: after[name] - before.get(name, 0) for name in after}
    scripted = {"time", "hmget", "zcount", "hset", "pexpire"}
    outside = {name: n for name, n in sent.items() if n and name not in scripted}
    assert outside == {"evalsha": 20, "info": 1}


def test_a_429_while_redis_is_down_halves_the_processs_share(
    client: redis.Redis, relay: TcpRelay
) -> None:
    join(client, 1)
    shared = budgets(client_via(relay), budgets={"openai": Budget(rpm=60)}, burst_s=10.0)
    assert shared.draw("openai", "m", 10, max_wait_s=0).granted  # Redis answers: alone
    relay.cut()
    first = shared.draw("openai", "m", 10, max_wait_s=0)
    first.shrink(retry_after_s=1)
    granted = [shared.draw("openai", "m", 10, max_wait_s=0).granted for _ in range(12)]
    assert granted.count(True) == 5  # 30 a minute from here: 11 at once would be the whole
