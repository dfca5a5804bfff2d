"""Cache hot paths beside their floors, measured in the same run on a private redis-server.

Each row times an operation and its floor in alternating rounds and reports the median of the
per-round ratios (the machine is noisy; absolute times mean little):

- key generation: ``generate_cache_key`` vs ``sha256(orjson.dumps(req, OPT_SORT_KEYS))``, for the
  same request again and for requests never seen (the chat request's ``topP: 1.0`` must be
  rewritten to ``1``; a variant with ``topP: 0.9`` shows the checks alone). Keys keep no memo,
  so both cost the same work; the table title says whether the per-value walk
  (``llmix_workers/cache/plain_body.py``) runs compiled by mypyc or as plain Python
- L1 hit: key + ``TwoTierCache.get`` vs that floor + a dict lookup; again with the fleet's
  lease and generation check (a ``FleetMember`` on the same Redis, its thread running)
- L2 hit: key + ``get`` (L1 miss, Redis GET, decode, back-fill) vs floor + a redis-py ``GET``
  on a default client + ``orjson.loads``
- L2 hit with fleet stamps: the same through a fleet member's cache (entries carry the stamp)
- miss + set: key + ``get`` + ``set`` vs floor + redis-py ``GET`` + ``SET EX`` of the entry; and
  the Redis commands a fleet member's miss + set sends (counted by the server: one GET, one SET)
- L2 hit vs a GET over a raw socket (the physical floor; information, no target)

Usage: ``python bench/cache_bench.py [--rounds N]``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson
import redis
from rich.console import Console
from rich.table import Table

from llmix_workers import RedisL2, TwoTierCache, generate_cache_key
from llmix_workers.cache import plain_body as plain_body_module
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.fleet.member import FleetMember
from llmix_workers.settings import CacheSettings, FleetSettings, RedisSettings
from llmix_workers.testing.redis_server import PrivateRedis
from llmix_workers.wiring.cache import l2_options

SYSTEM = (
    "You are a meticulous assistant for a logistics company. Answer in plain English, cite the "
    "order numbers you use, and say when you are unsure. "
) * 5
USER = (
    "Here is the shipment log for last week. Summarise the delays by carrier, list the three "
    "orders that were late by more than two days, and suggest one change to the routing rules "
    "that would have avoided most of them.\n"
) * 5
ANSWER = "Carrier A caused most delays. " * 20


def chat_request(seed: int = 42, turns: int = 0) -> dict[str, Any]:
    """A typical ~2 KB chat request (system + user), optionally with extra short turns."""
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    for turn in range(turns):
        messages.append({"role": "assistant", "content": f"Noted, part {turn}."})
        messages.append({"role": "user", "content": f"Go on with part {turn + 1}."})
    return {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "messages": messages,
        "temperature": 0.7,
        "maxOutputTokens": 512,
        "topP": 1.0,
        "seed": seed,
    }


def floor_key(request: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


def per_call_us(fn: Callable[[int], object], count: int) -> float:
    start = time.perf_counter()
    for index in range(count):
        fn(index)
    return (time.perf_counter() - start) / count * 1e6


def compare(
    op: Callable[[int], object], floor: Callable[[int], object], count: int, rounds: int
) -> tuple[float, float, float]:
    """(median µs of op, median µs of floor, median of per-round op/floor ratios)."""
    per_call_us(op, max(1, count // 10))
    per_call_us(floor, max(1, count // 10))
    ops, floors, ratios = [], [], []
    for round_index in range(rounds):
        pair = (op, floor) if round_index % 2 == 0 else (floor, op)
        first, second = (per_call_us(fn, count) for fn in pair)
        op_us, floor_us = (first, second) if round_index % 2 == 0 else (second, first)
        ops.append(op_us)
        floors.append(floor_us)
        ratios.append(op_us / floor_us)
    return statistics.median(ops), statistics.median(floors), statistics.median(ratios)


class RawSocketGet:
    """GET over a bare socket with a hand-written RESP parser: the physical floor."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def get(self, key: str) -> bytes | None:
        encoded = key.encode()
        self.sock.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(encoded), encoded))
        header = self.file.readline()
        length = int(header[1:-2])
        if length < 0:
            return None
        return self.file.read(length + 2)[:-2]


def run(rounds: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with PrivateRedis() as server:
        raw = redis.Redis.from_url(server.url)  # a default redis-py client: the floor's GET
        l2 = RedisL2(server.url, **l2_options(RedisSettings()))
        cache = TwoTierCache("redis", CacheSettings(), l2=l2)

        def row(name: str, target: float | None, op: Callable[[int], object],
                floor: Callable[[int], object], count: int) -> None:  # fmt: skip
            op_us, floor_us, ratio = compare(op, floor, count, rounds)
            rows.append({"name": name, "op_us": round(op_us, 2), "floor_us": round(floor_us, 2),
                         "ratio": round(ratio, 3), "target": target})  # fmt: skip

        request = chat_request()
        row("key generation, seen before", 1.5, lambda _: generate_cache_key(request),
            lambda _: floor_key(request), 20_000)  # fmt: skip
        fresh_requests = [chat_request(seed=n) for n in range(20_000 * (2 * rounds + 2))]
        unseen = iter(fresh_requests)
        floor_unseen = iter(fresh_requests)
        row("key generation, first sight", 1.5, lambda _: generate_cache_key(next(unseen)),
            lambda _: floor_key(next(floor_unseen)), 20_000)  # fmt: skip
        del fresh_requests
        unseen = floor_unseen = iter(())  # lets the pool go
        count = 20_000 * (2 * rounds + 2)
        no_rewrite = [chat_request(seed=n) | {"topP": 0.9} for n in range(count)]
        unseen_plain, floor_plain = iter(no_rewrite), iter(no_rewrite)
        row("key generation, first sight, no float to rewrite", None,
            lambda _: generate_cache_key(next(unseen_plain)),
            lambda _: floor_key(next(floor_plain)), 20_000)  # fmt: skip
        del no_rewrite
        multi = [chat_request(seed=n, turns=4) for n in range(5_000 * (2 * rounds + 2))]
        unseen_multi, floor_multi = iter(multi), iter(multi)
        row("key generation, first sight, 10 messages", None,
            lambda _: generate_cache_key(next(unseen_multi)),
            lambda _: floor_key(next(floor_multi)), 5_000)  # fmt: skip
        del multi

        key = generate_cache_key(request)
        cache.set(key, ANSWER)
        plain = {key: ANSWER}
        row("L1 hit", 1.6, lambda _: cache.get(generate_cache_key(request)),
            lambda _: plain.get("llmix:resp:v2:" + floor_key(request)), 20_000)  # fmt: skip
        timings = FleetSettings()
        member = FleetMember(redis.Redis.from_url(server.url),
                             FleetKeys.for_prefix("llmix:resp:v2:"), node="bench",
                             sync_interval_s=timings.sync_interval_s, lease_s=timings.lease_s,
                             member_ttl_s=timings.member_ttl_s)  # fmt: skip
        fleet_cache = TwoTierCache("redis", CacheSettings(), l2=l2, invalidator=member)
        member.start()
        fleet_cache.set(key, ANSWER)
        row("L1 hit, fleet lease check", 1.6,
            lambda _: fleet_cache.get(generate_cache_key(request)),
            lambda _: plain.get("llmix:resp:v2:" + floor_key(request)), 20_000)  # fmt: skip

        pair = [chat_request(seed=1), chat_request(seed=2)]
        keys = [generate_cache_key(r) for r in pair]
        for k in keys:
            cache.set(k, ANSWER)
        one_slot = TwoTierCache(
            "redis", CacheSettings(l1_max_entries=1), l2=l2
        )  # alternating keys: all L1 misses
        row("L2 hit", 1.2, lambda i: one_slot.get(generate_cache_key(pair[i & 1])),
            lambda i: orjson.loads(raw.get(keys[i & 1]) or b"{}") and floor_key(pair[i & 1]),
            3_000)  # fmt: skip
        stamped = [chat_request(seed=3), chat_request(seed=4)]
        stamped_keys = [generate_cache_key(r) for r in stamped]
        for k in stamped_keys:
            fleet_cache.set(k, ANSWER)
        fleet_slot = TwoTierCache("redis", CacheSettings(l1_max_entries=1), l2=l2,
                                  invalidator=member)  # fmt: skip
        row("L2 hit, fleet stamps", 1.2,
            lambda i: fleet_slot.get(generate_cache_key(stamped[i & 1])),
            lambda i: orjson.loads(raw.get(stamped_keys[i & 1]) or b"{}")
            and floor_key(stamped[i & 1]), 3_000)  # fmt: skip
        sock = RawSocketGet(server.port)
        row("L2 hit vs raw-socket GET", None, lambda i: one_slot.get(keys[i & 1]),
            lambda i: sock.get(keys[i & 1]), 3_000)  # fmt: skip

        fresh = iter(range(10**9))
        entry = orjson.dumps({"data": ANSWER, "cached_at": time.time()})

        def miss_and_set(_: int) -> None:
            k = generate_cache_key(chat_request(seed=next(fresh)))
            cache.get(k)
            cache.set(k, ANSWER)

        def floor_miss_and_set(_: int) -> None:
            k = "floor:" + floor_key(chat_request(seed=next(fresh)))
            raw.get(k)
            raw.set(k, entry, ex=3600)

        row("miss + set", None, miss_and_set, floor_miss_and_set, 2_000)
        rows.append(miss_set_commands(raw, fleet_cache, fresh))
        member.stop()
        cache.close()
        one_slot.close()
        raw.close()
    return rows


def miss_set_commands(
    raw: redis.Redis, cache: TwoTierCache, fresh: Any, count: int = 200
) -> dict[str, Any]:
    """Redis commands a fleet member's miss + set sends, counted by the server (GET and SET)."""

    def calls() -> dict[str, int]:
        stats: dict[str, Any] = raw.info("commandstats")
        return {name: int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in
                ("get", "set")}  # fmt: skip

    before = calls()
    for _ in range(count):
        k = generate_cache_key(chat_request(seed=next(fresh)))
        cache.get(k)
        cache.set(k, ANSWER, epoch=cache.epoch())
    after = calls()
    per = {name: (after[name] - before[name]) / count for name in after}
    return {"name": "Redis commands per fleet miss + set", "op_us": None, "floor_us": None,
            "ratio": round(per["get"] + per["set"], 3), "target": 2.0, "commands": per}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds per row")
    args = parser.parse_args()
    rows = run(args.rounds)
    walk = "compiled" if compiled_walk() else "plain Python: no C compiler at install"
    title = f"llmix_workers cache hot paths (median of alternating rounds; key walk {walk})"
    table = Table(title=title)
    for column in ("operation", "op µs", "floor µs", "ratio", "target", "ok"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for r in rows:
        ok = "" if r["target"] is None else ("yes" if r["ratio"] <= r["target"] else "NO")
        target = "" if r["target"] is None else f"≤ {r['target']}"
        op = "" if r["op_us"] is None else f"{r['op_us']:.1f}"
        floor = "" if r["floor_us"] is None else f"{r['floor_us']:.1f}"
        table.add_row(r["name"], op, floor, f"{r['ratio']:.2f}", target, ok)
    Console().print(table)
    print(json.dumps({"bench": "cache", "compiled_walk": compiled_walk(), "rows": rows}))


def compiled_walk() -> bool:
    """True when the key walk was built by mypyc at install (setup.py), not run from source."""
    return not plain_body_module.__file__.endswith(".py")


if __name__ == "__main__":
    main()
