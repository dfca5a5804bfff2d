"""Fleet-wide budgets from settings: one :class:`RedisBudgets` per worker process."""

from __future__ import annotations

from llmix_workers.errors import ConfigError
from llmix_workers.fleet.budget import BudgetObserver, RedisBudgets
from llmix_workers.fleet.keys import FleetKeys
from llmix_workers.settings import Settings
from llmix_workers.topology.outage import Outage
from llmix_workers.wiring.redis import redis_for


def check_budgets(settings: Settings) -> None:
    """Refuse budgets that no Redis can hold (at a worker's start, before any job).

    Raises:
        ConfigError: budgets are set but no Redis holds fleet state (a budget kept per process
            would be the whole budget times the processes: the failure budgets exist to stop).
    """
    if settings.llm.budgets and not settings.fleet_redis_url:
        raise ConfigError("llm.budgets needs the fleet's Redis: set REDIS_URL or fleet.redis_url")


def build_budgets(
    settings: Settings, *, outage: Outage | None = None, observer: BudgetObserver | None = None
) -> RedisBudgets | None:
    """The ``llm.budgets`` of the fleet on its Redis (``budget`` role), or ``None`` when none is
    set. ``outage`` is shared with the other parts on that Redis.

    Raises:
        ConfigError: as :func:`check_budgets`.
    """
    check_budgets(settings)
    llm = settings.llm
    if not llm.budgets:
        return None
    return RedisBudgets(
        redis_for(settings, "budget"),
        FleetKeys.for_prefix(settings.cache.key_prefix),
        llm.budgets,
        burst_s=llm.budget_burst_s,
        recovery_s=llm.budget_recovery_s,
        member_ttl_s=settings.fleet.member_ttl_s,
        outage=outage,
        observer=observer,
    )
