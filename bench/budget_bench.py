"""Fleet-wide budgets against a provider's own limit: 429s, share of the limit used, jobs failed.

Each run starts a :class:`LocalFleet` of its own (a private Redis as broker, results, L2 and
fleet state; the stub provider limited to ``--rpm`` requests and ``--tpm`` tokens a minute,
counted across all callers, answering 429 with ``retry-after`` beyond them; ``--nodes`` worker
processes of ``--threads`` threads) and sends ``--jobs`` distinct jobs, all cache misses:

- ``off``: today's per-process rules only (AIMD window, retries, breaker, re-queues);
- ``on``: the same, plus ``[llm.budgets] openai = { rpm = RPM, tpm = TPM }``: the budget set to
  the provider's limit, as an operator would.

Per run, one JSON line on stdout: ``budgets`` ("off"/"on"), ``share_429`` (429 answers / calls
the stub received), ``share_of_limit`` (successful calls per second / the limit per second,
over the batch's wall time), ``failed`` (jobs), plus the counts behind them. Targets with
budgets on: share_429 ≤ 0.01, share_of_limit ≥ 0.9, failed 0.

Usage: ``python bench/budget_bench.py [--jobs 2000] [--rpm 600] [--tpm 60000] [--nodes 4]
[--threads 16] [--latency-ms 200] [--runs off,on]``. 2,000 jobs at 600 a minute take at least
3.3 minutes per run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any

from llmix_workers.producer import CompletionProducer
from llmix_workers.testing.local_fleet import LocalFleet

#: Tokens a job asks for at most: what the budget's estimate charges before the call.
MAX_OUTPUT_TOKENS = 64


def jobs(count: int) -> list[dict[str, Any]]:
    """``count`` distinct requests (a fresh salt: never cached)."""
    salt = uuid.uuid4().hex[:8]
    return [
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": f"[{salt}] Summarise ticket {n} briefly."}],
            "maxOutputTokens": MAX_OUTPUT_TOKENS,
        }
        for n in range(count)
    ]


def run(args: argparse.Namespace, budgets: bool) -> dict[str, Any]:
    with LocalFleet(stub_latency_ms=args.latency_ms) as fleet:
        assert fleet.stub is not None
        fleet.stub.script(limits=(args.rpm, args.tpm))
        if budgets:
            (fleet.workdir / "settings.toml").write_text(
                f"[llm.budgets]\nopenai = {{ rpm = {args.rpm}, tpm = {args.tpm} }}\n"
            )
        for n in range(args.nodes):
            fleet.add_worker(f"b{n}", concurrency=args.threads, loglevel="WARNING")
        fleet.stub.reset()
        fleet.stub.script(limits=(args.rpm, args.tpm))
        with CompletionProducer(fleet.settings()) as producer:
            started = time.monotonic()
            outcomes = producer.run_batch(jobs(args.jobs), timeout_s=args.timeout_s)
            seconds = time.monotonic() - started
        calls = fleet.stub.calls()
    by_outcome = calls["by_outcome"]
    total, ok, limited = calls["total"], by_outcome.get("ok", 0), by_outcome.get("429", 0)
    failed = [o for o in outcomes if o.error]
    return {
        "bench": "budget",
        "budgets": "on" if budgets else "off",
        "share_429": round(limited / total, 4) if total else 0.0,
        "share_of_limit": round(ok / seconds / (args.rpm / 60), 4),
        "failed": len(failed),
        "jobs": args.jobs,
        "calls": total,
        "calls_ok": ok,
        "calls_429": limited,
        "seconds": round(seconds, 1),
        "rate_per_min": round(ok / seconds * 60, 1),
        "rpm": args.rpm,
        "tpm": args.tpm,
        "nodes": args.nodes,
        "threads": args.threads,
        "latency_ms": args.latency_ms,
        "errors": sorted({(o.error_type or "") + ": " + (o.error or "")[:80] for o in failed})[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rpm", type=int, default=600, help="the stub's limit (and the budget)")
    parser.add_argument("--tpm", type=int, default=60_000, help="the stub's token limit")
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--latency-ms", type=int, default=200, help="the stub's answer time")
    parser.add_argument("--runs", default="off,on", help="which runs, in order")
    parser.add_argument("--timeout-s", type=float, default=1800.0)
    args = parser.parse_args()
    for mode in args.runs.split(","):
        print(f"budget bench: budgets {mode}, {args.jobs} jobs...", file=sys.stderr)
        print(json.dumps(run(args, mode == "on")), flush=True)


if __name__ == "__main__":
    main()
