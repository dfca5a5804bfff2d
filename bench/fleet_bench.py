"""Fleet coordination costs, each beside its baseline in the same run.

1. ``cache clear`` of N L2 keys (default 100,000) with three live workers, beside a raw
   redis-py SCAN + UNLINK of the same keys (same batch size). Target: the L2 part ≤ 1.3× raw;
   the whole clear ≤ 1.3× raw + one broadcast round trip (measured here with a stats request).
2. Time from publishing the clear to the last acknowledgement (three processes).
3. The L1-hit path with the fleet generation check (``FleetMember.ensure_fresh``) beside its
   floor (orjson + SHA-256 of the request + a dict lookup): target ≤ 1.6×, as without it.

Usage: ``python bench/fleet_bench.py [--keys N] [--rounds R]``. Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import redis
from cache_bench import chat_request, compare, floor_key
from rich.console import Console
from rich.table import Table

from llmix_workers import TwoTierCache, generate_cache_key
from llmix_workers.cache.backends.patterns import glob_escape
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.fleet.member import FleetMember
from llmix_workers.settings import CacheSettings, FleetSettings
from llmix_workers.testing.local_fleet import LocalFleet
from llmix_workers.wiring.fleet import build_fleet_control

PREFIX = "llmix:resp:v2:"


def fill(client: redis.Redis, count: int) -> None:
    entry = b'{"data":"x","cached_at":1700000000}'
    with client.pipeline(transaction=False) as pipe:
        for index in range(count):
            pipe.set(f"{PREFIX}{index:064x}", entry, ex=3600)
            if index % 5000 == 4999:
                pipe.execute()
        pipe.execute()


def raw_scan_unlink(client: redis.Redis, batch: int) -> int:
    deleted = cursor = 0
    while True:
        cursor, keys = client.scan(cursor, match=glob_escape(PREFIX) + "*", count=batch)
        if keys:
            deleted += client.unlink(*keys)
        if cursor == 0:
            return deleted


def clear_rows(fleet: LocalFleet, keys: int, rounds: int) -> dict[str, Any]:
    settings = fleet.settings()
    control = build_fleet_control(settings)
    client = redis.Redis.from_url(fleet.redis_url)
    batch = settings.cache.clear_batch_size
    raws, l2s, totals, acks, rtts = [], [], [], [], []

    def raw_round() -> None:
        fill(client, keys)
        started = time.perf_counter()
        assert raw_scan_unlink(client, batch) == keys
        raws.append(time.perf_counter() - started)

    def clear_round() -> None:
        fill(client, keys)
        started = time.perf_counter()
        report = control.clear(timeout_s=10)
        totals.append(time.perf_counter() - started)
        assert report.complete and report.l2_deleted == keys, report
        l2s.append(report.l2_s)
        acks.append(report.ack_s)

    for round_index in range(rounds):
        for step in (raw_round, clear_round) if round_index % 2 == 0 else (clear_round, raw_round):
            step()
        started = time.perf_counter()
        replies, _ = control.stats(timeout_s=10)
        rtts.append(time.perf_counter() - started)
        assert not replies.silent and len(replies.answers) == 3
    raw, l2, total = statistics.median(raws), statistics.median(l2s), statistics.median(totals)
    rtt = statistics.median(rtts)
    return {
        "keys": keys, "raw_s": round(raw, 4), "clear_l2_s": round(l2, 4),
        "clear_total_s": round(total, 4), "broadcast_rtt_s": round(rtt, 4),
        "ack_s": round(statistics.median(acks), 4), "l2_ratio": round(l2 / raw, 3),
        "total_ratio": round(total / (raw + rtt), 3),
    }  # fmt: skip


def l1_check_rows(fleet: LocalFleet, rounds: int) -> dict[str, Any]:
    timings = FleetSettings()
    member = FleetMember(
        redis.Redis.from_url(fleet.redis_url), FleetKeys.for_prefix(PREFIX), node="bench",
        sync_interval_s=timings.sync_interval_s, lease_s=timings.lease_s,
        member_ttl_s=timings.member_ttl_s,
    )  # fmt: skip
    cache = TwoTierCache("memory", CacheSettings(), invalidator=member)
    member.start()
    local = TwoTierCache("memory", CacheSettings())
    local.set(generate_cache_key(chat_request()), "answer")
    request = chat_request()
    key = generate_cache_key(request)
    cache.set(key, "answer")
    plain = {key: "answer"}

    def floor(_: int) -> object:
        return plain.get(PREFIX + floor_key(request))

    def checked(_: int) -> object:
        return cache.get(generate_cache_key(request))

    def unchecked(_: int) -> object:
        return local.get(generate_cache_key(request))

    with_check = compare(checked, floor, 20_000, rounds)
    without = compare(unchecked, floor, 20_000, rounds)
    member.stop()
    return {
        "l1_hit_with_check_us": round(with_check[0], 2), "floor_us": round(with_check[1], 2),
        "ratio_with_check": round(with_check[2], 3), "ratio_without_check": round(without[2], 3),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with LocalFleet() as fleet:
        for name in ("f1", "f2", "f3"):
            fleet.add_worker(name, concurrency=2, loglevel="WARNING")
        clear = clear_rows(fleet, args.keys, args.rounds)
        l1 = l1_check_rows(fleet, max(5, args.rounds * 2))
    table = Table(title="fleet coordination (median of rounds)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    rows = [
        (f"raw SCAN+UNLINK of {args.keys:,} keys", f"{clear['raw_s'] * 1000:.0f} ms", ""),
        ("clear: L2 part", f"{clear['clear_l2_s'] * 1000:.0f} ms", ""),
        ("clear: L2 part / raw", f"{clear['l2_ratio']:.2f}", "≤ 1.3"),
        ("clear: whole, to last ack", f"{clear['clear_total_s'] * 1000:.0f} ms", ""),
        ("broadcast round trip (3 workers)", f"{clear['broadcast_rtt_s'] * 1000:.1f} ms", ""),
        ("clear whole / (raw + round trip)", f"{clear['total_ratio']:.2f}", "≤ 1.3"),
        ("publish → last acknowledgement", f"{clear['ack_s'] * 1000:.1f} ms", ""),
        ("L1 hit with generation check / floor", f"{l1['ratio_with_check']:.2f}", "≤ 1.6"),
        ("L1 hit without the check / floor", f"{l1['ratio_without_check']:.2f}", ""),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    print(json.dumps({"bench": "fleet", **clear, **l1}))


if __name__ == "__main__":
    main()
