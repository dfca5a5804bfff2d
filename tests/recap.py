"""The last words of ``make test``: one recap of its passes, so a failed run says why at its tail.

``make test`` runs pytest twice (the tests that share the machine over pytest-xdist workers,
then those marked ``serial`` alone); each pass writes a JUnit XML file and its exit status.
This prints, after both, the 20 slowest tests of the run, every failure and error with its
test id and first line, and one line per pass; it exits 1 when a pass failed (a failed test, a
collection error, a crash that left no XML) and 0 otherwise.

Usage: ``python tests/recap.py RESULTS_DIR PASS [PASS ...]``: ``RESULTS_DIR/PASS.xml`` and
``RESULTS_DIR/PASS.rc`` for each pass.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

SLOWEST = 20
#: pytest's exit statuses that do not mean a failure: all passed, no test selected.
PASSING_STATUSES = {0, 5}


@dataclass
class Pass:
    """What one pytest pass left behind."""

    name: str
    status: int | None = None
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    timings: list[tuple[float, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status not in PASSING_STATUSES or bool(self.problems)


def node_id(classname: str, name: str) -> str:
    """The pytest id of a JUnit test case: ``tests.a.test_b.TestC`` + ``test_d[x]`` →
    ``tests/a/test_b.py::TestC::test_d[x]`` (the longest prefix that is a file wins)."""
    parts = classname.split(".")
    for cut in range(len(parts), 0, -1):
        path = Path(*parts[:cut]).with_suffix(".py")
        if path.is_file():
            return "::".join([path.as_posix(), *parts[cut:], name])
    return f"{classname}::{name}"


def first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def read_pass(folder: Path, name: str) -> Pass:
    result = Pass(name)
    rc = folder / f"{name}.rc"
    if rc.is_file() and rc.read_text().strip().lstrip("-").isdigit():
        result.status = int(rc.read_text().strip())
    xml = folder / f"{name}.xml"
    if not xml.is_file():
        result.problems.append(f"{name} pass: no JUnit XML (pytest crashed or never ran)")
        return result
    root = ET.parse(xml).getroot()
    for suite in root.iter("testsuite"):
        result.seconds += float(suite.get("time", 0))
        for key in ("tests", "failures", "errors", "skipped"):
            result.counts[key] = result.counts.get(key, 0) + int(suite.get(key, 0))
    for case in root.iter("testcase"):
        test = node_id(case.get("classname", ""), case.get("name", ""))
        result.timings.append((float(case.get("time", 0)), test))
        for kind, label in (("failure", "FAILED"), ("error", "ERROR")):
            for problem in case.iter(kind):
                line = first_line(problem.get("message")) or first_line(problem.text)
                result.problems.append(f"{label} {test} - {line}")
    return result


def recap(folder: Path, names: list[str]) -> int:
    passes = [read_pass(folder, name) for name in names]
    print(f"{' recap of make test ':=^88}")
    print(f"{SLOWEST} slowest tests (setup + call + teardown, both passes):")
    timings = sorted((t for p in passes for t in p.timings), reverse=True)[:SLOWEST]
    for seconds, test in timings:
        print(f"  {seconds:7.2f}s {test}")
    for one in passes:
        counts = one.counts
        passed = counts.get("tests", 0) - sum(
            counts.get(k, 0) for k in ("failures", "errors", "skipped")
        )
        print(
            f"{one.name} pass: exit {one.status}, {passed} passed, {counts.get('failures', 0)} "
            f"failed, {counts.get('errors', 0)} errors, {counts.get('skipped', 0)} skipped "
            f"in {one.seconds:.0f} s"
        )
    problems = [line for one in passes for line in one.problems]
    for line in problems:
        print(line)
    failed = any(one.failed for one in passes)
    print("make test: FAILED" if failed else "make test: passed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(recap(Path(sys.argv[1]), sys.argv[2:]))
