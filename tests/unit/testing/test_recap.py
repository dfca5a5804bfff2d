"""tests/recap.py: the tail of make test names every failure and fails when a pass did."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.recap import recap

PASSED = """<testsuites><testsuite tests="2" failures="0" errors="0" skipped="0" time="3.5">
<testcase classname="tests.unit.test_layers" name="test_a" time="3.0"/>
<testcase classname="tests.unit.test_layers" name="test_b[x]" time="0.5"/>
</testsuite></testsuites>"""
FAILED = """<testsuites><testsuite tests="2" failures="1" errors="1" skipped="0" time="9">
<testcase classname="tests.redis.test_l2_redis.TestRedisL2" name="test_c" time="7.0">
<failure message="AssertionError: assert 2 == 1&#10;more">traceback</failure></testcase>
<testcase classname="tests.unit.test_layers" name="test_d" time="2.0">
<error message="">fixture 'x' not found</error></testcase>
</testsuite></testsuites>"""


def write(folder: Path, name: str, xml: str | None, status: int) -> None:
    if xml is not None:
        (folder / f"{name}.xml").write_text(xml)
    (folder / f"{name}.rc").write_text(f"{status}\n")


def test_passing_passes_list_the_slowest_tests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "parallel", PASSED, 0)
    write(tmp_path, "serial", "<testsuites/>", 5)  # no test selected is not a failure
    assert recap(tmp_path, ["parallel", "serial"]) == 0
    out = capsys.readouterr().out
    assert out.index("tests/unit/test_layers.py::test_a") < out.index("test_b[x]")
    assert "parallel pass: exit 0, 2 passed, 0 failed" in out and out.endswith("passed\n")


def test_failures_and_errors_are_named_with_their_first_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "parallel", PASSED, 0)
    write(tmp_path, "serial", FAILED, 1)
    assert recap(tmp_path, ["parallel", "serial"]) == 1
    out = capsys.readouterr().out
    assert (
        "FAILED tests/redis/test_l2_redis.py::TestRedisL2::test_c - AssertionError: assert 2 == 1\n"
        in out
    )
    assert "ERROR tests/unit/test_layers.py::test_d - fixture 'x' not found" in out
    assert out.endswith("make test: FAILED\n")


def test_a_pass_that_left_no_xml_or_a_bad_status_fails(tmp_path: Path) -> None:
    write(tmp_path, "parallel", None, 3)
    write(tmp_path, "serial", PASSED, 0)
    assert recap(tmp_path, ["parallel", "serial"]) == 1
    write(tmp_path, "parallel", PASSED, 2)  # interrupted, though every test in the XML passed
    assert recap(tmp_path, ["parallel", "serial"]) == 1
