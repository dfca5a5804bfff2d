"""The package reads top to bottom as the path of a job: each package imports only the ones below
it (a row for every package), no module or package imports itself back through others, and every
Redis connection goes through the one door (``topology``).

Every import counts: at module level, inside a function (a lazy import), under
``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "llmix_workers"
ROOT = "llmix_workers"

#: Package (or top-level module) -> what it may import, from the bottom layer up. The root
#: ``__init__`` re-exports the public names; ``__main__`` and ``celery_app`` are entry points.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "topology": {"errors"},
    "cache": {"errors", "topology"},
    "settings": {"errors", "topology", "cache"},
    "llm": {"errors", "settings"},
    "fleet": {"errors", "topology", "cache", "settings"},
    "jobs": {"errors", "cache", "llm", "fleet", "settings"},
    "telemetry": {"errors", "cache", "llm", "fleet", "jobs", "settings"},
    "wiring": {"errors", "topology", "cache", "settings", "llm", "fleet", "jobs", "telemetry"},
    "results": {"errors"},
    "worker": {
        "errors",
        "topology",
        "cache",
        "settings",
        "llm",
        "fleet",
        "jobs",
        "telemetry",
        "wiring",
    },  # fmt: skip
    "producer": {"errors", "settings", "jobs", "results", "wiring", "worker"},
    # Test support drives a whole fleet the way a user does (the nemesis workload enqueues with
    # the producer), so it sits above it.
    "testing": {
        "errors",
        "topology",
        "cache",
        "settings",
        "llm",
        "fleet",
        "jobs",
        "worker",
        "producer",
    },  # fmt: skip
    "cli": {
        "errors",
        "topology",
        "settings",
        "llm",
        "fleet",
        "jobs",
        "wiring",
        "results",
        "worker",
        "producer",
        "testing",
    },  # fmt: skip
    "celery_app": {"settings", "worker"},
    "__main__": {"cli"},
    ROOT: {"errors", "cache", "settings", "wiring"},
}
#: Where a Redis client or pool may be built: the one door.
DOOR = PACKAGE / "topology" / "clients.py"
#: Calls that build a Redis connection, client or pool (anywhere but the door).
BUILDERS = {"from_url", "Redis", "StrictRedis", "RedisCluster", "Sentinel", "ConnectionPool",
            "BlockingConnectionPool", "SentinelConnectionPool", "ClusterNode"}  # fmt: skip


def module_name(path: Path) -> str:
    parts = [ROOT, *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def imported_modules(path: Path) -> set[str]:
    """Every ``llmix_workers`` module ``path`` imports (a name imported from a package counts as
    its module when it is one)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found.update(name for name in names if name == ROOT or name.startswith(ROOT + "."))
    return {name for name in found if name in MODULES}


GRAPH = {module: imported_modules(path) - {module} for module, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            target = next(edges, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_package_has_a_row() -> None:
    assert {layer(module) for module in MODULES} == set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below(package: str) -> None:
    offenders = {
        module: sorted(bad)
        for module, imports in GRAPH.items()
        if layer(module) == package
        and (bad := {layer(i) for i in imports} - ALLOWED[package] - {package})
    }
    assert offenders == {}


def test_no_package_cycles() -> None:
    packages: dict[str, set[str]] = {name: set() for name in ALLOWED}
    for module, imports in GRAPH.items():
        packages[layer(module)] |= {layer(i) for i in imports} - {layer(module)}
    assert cycles(packages) == []


def test_no_module_cycles() -> None:
    assert cycles(GRAPH) == []


def test_the_cycle_check_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_checker_sees_lazy_and_type_checking_imports() -> None:
    assert "llmix_workers.settings" in GRAPH["llmix_workers.wiring.cache"]
    lazy = GRAPH["llmix_workers.cli.cache"]  # imported inside the command functions
    assert "llmix_workers.wiring.fleet" in lazy
    assert "llmix_workers.settings" in GRAPH["llmix_workers.telemetry.health"]  # TYPE_CHECKING


def redis_builders(path: Path) -> list[str]:
    """``line: call`` for each call in ``path`` that builds a Redis client or pool."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in BUILDERS:
                found.append(f"{node.lineno}: {name}")
    return found


def test_one_door_to_redis() -> None:
    """Nothing but ``topology/clients.py`` builds a Redis client or pool (``from_url``,
    ``Redis(...)``, ``RedisCluster(...)``, ``Sentinel(...)``, a pool): a second door is how
    Cluster and Sentinel support broke in the CLI and ``/readyz``."""
    offenders = {
        str(path.relative_to(PACKAGE)): found
        for path in MODULES.values()
        if path != DOOR and (found := redis_builders(path))
    }
    assert offenders == {}


def test_the_door_check_sees_a_second_door(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import redis\nc = redis.Redis.from_url('redis://x')\nredis.Redis(port=1)\n")
    assert redis_builders(sample) == ["2: from_url", "3: Redis"]


def test_no_module_is_over_300_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 300
    }
    assert long == {}
