"""Every third-party import of the package is declared in pyproject.toml: the package's own in
``dependencies`` or an extra it names in its error messages (``[otel]``), and what
``llmix_workers.testing`` (the helpers and pytest plugin users' tests import) needs in
``dependencies`` or the ``testing`` extra. An undeclared import works here, where the test
extra installs everything, and breaks on a user's machine."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "llmix_workers"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
#: Extras the package itself may import from (lazily, with an error naming the extra).
PACKAGE_EXTRAS = ("otel", "embedded")


def requirement_names(requirements: list[str]) -> set[str]:
    names = {re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0] for req in requirements}
    return {normalise(name) for name in names}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


DEPENDENCIES = requirement_names(PYPROJECT["dependencies"])
EXTRAS = {
    name: requirement_names(reqs) for name, reqs in PYPROJECT["optional-dependencies"].items()
}


def imports(path: Path) -> Iterator[str]:
    """Every absolute module name ``path`` imports, however deep (lazy imports included)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@cache
def files_of(name: str) -> frozenset[str]:
    try:
        return frozenset(str(f) for f in distribution(name).files or [])
    except PackageNotFoundError:
        return frozenset()


@cache
def distribution_of(module: str) -> str | None:
    """The installed distribution that provides ``module`` (the deepest match, so a namespace
    package such as ``opentelemetry`` resolves to the distribution of the part imported)."""
    top = module.split(".")[0]
    candidates = top_level().get(top, [])
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        stem = "/".join(parts[:depth])
        for name in candidates:
            if {f"{stem}.py", f"{stem}/__init__.py"} & files_of(name):
                return normalise(name)
    return normalise(candidates[0]) if candidates else None


@cache
def top_level() -> dict[str, list[str]]:
    return dict(packages_distributions())


def third_party(path: Path) -> Iterator[tuple[str, str | None]]:
    for module in imports(path):
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top in ("llmix_workers", "__future__"):
            continue
        yield module, distribution_of(module)


def undeclared(area: str, allowed: set[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}: {module} ({dist or 'not installed'})"
        for path in sorted((PACKAGE / area).rglob("*.py") if area else PACKAGE.rglob("*.py"))
        if area or "testing" not in path.relative_to(PACKAGE).parts
        for module, dist in third_party(path)
        if dist not in allowed
    ]


def test_the_package_imports_only_what_it_declares() -> None:
    allowed = DEPENDENCIES.union(*(EXTRAS[name] for name in PACKAGE_EXTRAS))
    assert undeclared("", allowed) == []


def test_testing_imports_only_dependencies_and_the_testing_extra() -> None:
    assert undeclared("testing", DEPENDENCIES | EXTRAS["testing"]) == []


def test_the_check_resolves_namespace_packages() -> None:
    assert distribution_of("opentelemetry.sdk.trace") == "opentelemetry-sdk"
    assert distribution_of("opentelemetry.trace") == "opentelemetry-api"
    assert distribution_of("yaml") == "pyyaml"
