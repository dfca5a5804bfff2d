"""A worker process wired from settings: hooks, provider client, fleet seat, cache, service.

The order is the dependency order, so every part gets what it needs in its constructor: the
hooks first (telemetry), then the provider client (told of retries by the hooks, drawing from
the fleet-wide budgets when ``llm.budgets`` sets any), the fleet
member (describing the process with the client's key health, counting what it takes through the
hooks), the cache (over the hooks' L2 and invalidator), and the service over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmix_workers.cache.tiered import TwoTierCache
from llmix_workers.fleet.member import FleetMember
from llmix_workers.jobs.service import CompletionService
from llmix_workers.llm.client import LLMClient
from llmix_workers.llm.factory import build_llm_client
from llmix_workers.settings import Settings
from llmix_workers.telemetry.hooks import TelemetryHooks
from llmix_workers.telemetry.process import process_telemetry
from llmix_workers.telemetry.tracing import setup_tracing
from llmix_workers.wiring.budgets import build_budgets
from llmix_workers.wiring.cache import build_response_cache
from llmix_workers.wiring.describe import describer, known_providers
from llmix_workers.wiring.fleet import fleet_seat
from llmix_workers.wiring.hooks import Hooks, NoHooks
from llmix_workers.wiring.redis import shared_outages


def process_hooks(settings: Settings) -> Hooks:
    """This process's hooks: telemetry when metrics or traces are on (tracing set up here, so
    call it after a prefork fork), else none."""
    section = settings.telemetry
    if not section.metrics_port and not section.otel_enabled:
        return NoHooks()
    setup_tracing(section)
    return TelemetryHooks(process_telemetry(section, providers=known_providers(settings)))


@dataclass(frozen=True)
class WorkerParts:
    """What one worker process runs jobs with; :meth:`close` releases it all, in reverse."""

    cache: TwoTierCache | None
    fleet: FleetMember | None
    client: LLMClient
    service: CompletionService
    hooks: Hooks

    def close(self) -> None:
        if self.fleet is not None:
            self.fleet.stop()
        if self.cache is not None:
            self.cache.close()
        self.hooks.close()
        self.client.close()


def wire_worker(
    settings: Settings,
    *,
    node: str,
    client: LLMClient | None = None,
    hooks: Hooks | None = None,
) -> WorkerParts:
    """The parts of a worker process named ``node``, started (the fleet member syncs and runs
    its thread; the hooks sample the cache). ``client`` replaces the provider client built
    from ``[llm]``; ``hooks`` the ones :func:`process_hooks` makes.

    Raises:
        ConfigError: the settings cannot be wired (a cache strategy without its Redis URL, a
            custom provider that does not import, tracing without the ``[otel]`` extra).
    """
    hooks = hooks if hooks is not None else process_hooks(settings)
    outages = shared_outages(settings)
    if client is None:
        budgets = build_budgets(settings, outage=outages["budget"],
                                observer=hooks.budget_observer())  # fmt: skip
        client = build_llm_client(settings, observer=hooks.resilience_observer(), budgets=budgets)
    seat = fleet_seat(settings, node, describe=describer(settings, client),
                      counts=hooks.fleet_counts(), outage=outages["fleet"])  # fmt: skip
    member = seat[0] if seat is not None else None
    invalidator = hooks.wrap_invalidator(member) if member is not None else None
    cache = build_response_cache(settings, invalidator=invalidator, hooks=hooks,
                                 outage=outages["cache"])  # fmt: skip
    fleet = member.start() if member is not None and cache is not None else None
    lock = seat[1] if seat is not None and fleet is not None else None
    service = CompletionService(cache, client, worker=node, fleet_lock=lock,
                                observer=hooks.job_observer())  # fmt: skip
    hooks.start(cache.stats if cache is not None else None)
    return WorkerParts(cache, fleet, client, service, hooks)
