"""``llmix-workers worker``: a Celery worker node that runs completion jobs."""

from __future__ import annotations

import click

from llmix_workers.cli.group import CONTEXT, friendly_errors, settings_from
from llmix_workers.settings.sections import MAX_CONCURRENCY


@click.command("worker", context_settings=CONTEXT)
@click.option("--pool", type=click.Choice(["threads", "prefork", "solo"]), default=None,
              help="Worker pool (default: worker.pool, threads).")  # fmt: skip
@click.option("-c", "--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=None,
              help="Threads or child processes (default: worker.concurrency).")  # fmt: skip
@click.option("-n", "--hostname", default=None, help="Node name, e.g. w1@%h.")
@click.option(
    "-Q", "--queues", default=None, help="Comma-separated queues (default: worker.queue)."
)
@click.option("-l", "--loglevel", default="INFO", show_default=True)
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Port of /metrics, /healthz and /readyz; 0 is off "
                   "(default: telemetry.metrics_port).")  # fmt: skip
@click.option("--max-tasks-per-child", type=click.IntRange(min=1), default=None,
              help="Prefork: replace a child after this many jobs.")  # fmt: skip
@click.pass_context
@friendly_errors
def worker(
    ctx: click.Context,
    pool: str | None,
    concurrency: int | None,
    hostname: str | None,
    queues: str | None,
    loglevel: str,
    metrics_port: int | None,
    max_tasks_per_child: int | None,
) -> None:
    """Start a Celery worker that runs completion jobs through the cache."""
    from llmix_workers.settings.sizing import check_pool_sizes
    from llmix_workers.worker.app import check_redis_credentials, create_app

    settings = settings_from(ctx)
    check_redis_credentials(settings)
    if metrics_port is not None:
        telemetry = settings.telemetry.model_copy(update={"metrics_port": metrics_port})
        settings = settings.model_copy(update={"telemetry": telemetry})
    pool = pool or settings.worker.pool
    concurrency = concurrency or settings.worker.concurrency
    # The settings say what runs (``llmix-workers workers`` reports them).
    section = settings.worker.model_copy(update={"pool": pool, "concurrency": concurrency})
    settings = settings.model_copy(update={"worker": section})
    check_pool_sizes(settings.redis, settings.llm, settings.worker)
    # Celery lets the app's configuration win over --pool, so both are set here.
    app = create_app(settings, worker_pool=pool, worker_concurrency=concurrency)
    argv = [
        "worker",
        f"--loglevel={loglevel}",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        f"--queues={queues or settings.worker.queue}",
        "--without-gossip",
        "--without-mingle",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    if max_tasks_per_child:
        argv.append(f"--max-tasks-per-child={max_tasks_per_child}")
    app.worker_main(argv)
