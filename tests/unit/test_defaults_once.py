"""Defaults are stated once, in the settings sections: the code that settings configure takes
those values as arguments and states no default of its own (a second default drifts from the
first, and then a part built outside the wiring behaves unlike the fleet's).

Two checks: the parameters the wiring fills from settings have no default (a table, kept next to
``llmix_workers/wiring``); and no parameter or dataclass field anywhere else in the package that
bears a setting's own name (``ttl_s``, ``lease_s``, ``key_cooloff_s``...) has a literal default.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmix_workers.cache.backends.redis import RedisL2
from llmix_workers.cache.backends.redis_cluster import RedisClusterL2
from llmix_workers.fleet.budget import RedisBudgets
from llmix_workers.fleet.lock import FleetLock
from llmix_workers.fleet.member import FleetMember
from llmix_workers.llm.aimd import AdaptiveLimiter
from llmix_workers.llm.breaker import CircuitBreaker
from llmix_workers.llm.key_pool import KeyPool
from llmix_workers.llm.resilient import ResilientClient
from llmix_workers.llm.retry import RetryPolicy
from llmix_workers.settings import Settings
from llmix_workers.telemetry.health import HealthState
from llmix_workers.telemetry.metrics import Metrics

PACKAGE = Path(__file__).parents[2] / "llmix_workers"
#: Setting names that mean something else as a parameter of these modules: how long a caller
#: waits for results (``timeout_s``), a per-call override (``cache_first``), what a test fleet
#: starts (``testing/``: its own tools, not settings' consumers).
OTHER_MEANINGS = {"producer.py": {"timeout_s", "cache_first"}}

#: What the wiring passes from settings: (callable, parameter) -> the setting.
WIRED: dict[tuple[Callable[..., Any], str], str] = {
    **{(backend, name): f"redis.{name}" for backend in (RedisL2, RedisClusterL2)
       for name in ("socket_timeout_s", "connect_timeout_s", "max_connections", "protocol")},
    (FleetLock, "ttl_s"): "fleet.lock_ttl_s",
    (FleetLock, "wait_s"): "fleet.lock_wait_s",
    (FleetLock, "poll_s"): "fleet.lock_poll_s",
    (FleetMember, "sync_interval_s"): "fleet.sync_interval_s",
    (FleetMember, "lease_s"): "fleet.lease_s",
    (FleetMember, "member_ttl_s"): "fleet.member_ttl_s",
    (RedisBudgets, "burst_s"): "llm.budget_burst_s",
    (RedisBudgets, "recovery_s"): "llm.budget_recovery_s",
    (RedisBudgets, "member_ttl_s"): "fleet.member_ttl_s",
    (ResilientClient, "policy"): "llm (max_attempts, max_inline_wait_s, retry_after_cap_s)",
    (ResilientClient, "breaker_failure_threshold"): "llm.breaker_failure_threshold",
    (ResilientClient, "breaker_cooldown_s"): "llm.breaker_cooldown_s",
    (ResilientClient, "concurrency_initial"): "llm.concurrency_initial",
    (ResilientClient, "concurrency_min"): "llm.concurrency_min",
    (RetryPolicy, "max_attempts"): "llm.max_attempts",
    (RetryPolicy, "max_inline_wait_s"): "llm.max_inline_wait_s",
    (RetryPolicy, "retry_after_cap_s"): "llm.retry_after_cap_s",
    (CircuitBreaker, "failure_threshold"): "llm.breaker_failure_threshold",
    (CircuitBreaker, "cooldown_s"): "llm.breaker_cooldown_s",
    (AdaptiveLimiter, "initial"): "llm.concurrency_initial",
    (AdaptiveLimiter, "minimum"): "llm.concurrency_min",
    (KeyPool, "cooloff_s"): "llm.key_cooloff_s",
    (Metrics, "max_models"): "telemetry.max_model_labels",
    (HealthState, "liveness_timeout_s"): "telemetry.liveness_timeout_s",
    (HealthState, "readiness_timeout_s"): "telemetry.readiness_timeout_s",
}  # fmt: skip


def setting_names() -> set[str]:
    settings = Settings()
    return {
        name
        for section in type(settings).model_fields
        for name in type(getattr(settings, section)).model_fields
    }


def literal_defaults(path: Path) -> Iterator[tuple[int, str, Any]]:
    """(line, name, value) of every parameter and class field of ``path`` with a literal default."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = [*args.posonlyargs, *args.args]
            pairs = list(
                zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
            )
            pairs += [
                (a, d)
                for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                if d is not None
            ]
            for arg, default in pairs:
                if isinstance(default, ast.Constant) and default.value is not None:
                    yield node.lineno, arg.arg, default.value
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    if isinstance(item.value, ast.Constant) and item.value.value is not None:
                        yield item.lineno, item.target.id, item.value.value


CASES = sorted(WIRED.items(), key=lambda item: (item[0][0].__qualname__, item[0][1]))


@pytest.mark.parametrize(("target", "parameter"), [pair for pair, _ in CASES])
def test_what_the_wiring_fills_from_settings_has_no_default(
    target: Callable[..., Any], parameter: str
) -> None:
    found = inspect.signature(target).parameters[parameter]
    assert found.default is inspect.Parameter.empty, f"restates {WIRED[(target, parameter)]}"


def test_no_parameter_named_for_a_setting_has_a_default_of_its_own() -> None:
    names = setting_names()
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line} {name}={value!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in ("settings", "testing")
        for line, name, value in literal_defaults(path)
        if name in names - OTHER_MEANINGS.get(str(path.relative_to(PACKAGE)), set())
    ]
    assert offenders == []


def test_the_scan_sees_parameters_and_fields(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f(a, *, lease_s=3.0, b=None): ...\nclass C:\n    ttl_s: int = 60\n")
    assert list(literal_defaults(sample)) == [(1, "lease_s", 3.0), (3, "ttl_s", 60)]
