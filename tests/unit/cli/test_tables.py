"""Issue 14 defect 8: tables show full numbers, and are plain text when not on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from llmix_workers.cli.summary import BatchSummary
from llmix_workers.cli.tables import print_stats
from llmix_workers.fleet.control import Replies
from llmix_workers.producer import JobOutcome


def _answer(node: str) -> dict[str, object]:
    return {"node": node, "pid": 123456, "l1Size": 27_500, "l1Max": 1_000_000,
            "l1Hits": 9_876_543, "l2Hits": 1_234_567, "misses": 7_654_321, "l2Healthy": True,
            "l2Blocked": False, "generation": 42}  # fmt: skip


def test_stats_piped_are_plain_and_whole() -> None:
    buffer = io.StringIO()
    out = Console(file=buffer, width=80)
    print_stats(Replies([_answer("worker-with-a-long-name@host-1.example")], [], 0.1), 12_345, out)
    text = buffer.getvalue()
    for number in ("27,500", "1,000,000", "9,876,543", "1,234,567", "7,654,321", "12,345"):
        assert number in text
    assert "…" not in text and "━" not in text and "\x1b[" not in text
    assert "worker-with-a-long-name@host-1.example" in text


def test_stats_on_a_narrow_terminal_are_not_cut() -> None:
    buffer = io.StringIO()
    out = Console(file=buffer, width=60, force_terminal=True, color_system=None)
    print_stats(Replies([_answer("w1@h")], [], 0.1), 12_345, out)
    assert "9,876,543" in buffer.getvalue() and "…" not in buffer.getvalue()


def test_summary_counts_failures_by_type_and_requeues() -> None:
    outcomes = [
        JobOutcome(0, output={"cacheHit": None, "latencyMs": 5.0}, requeues=2),
        JobOutcome(1, error="AuthError: no", error_type="AuthError"),
        JobOutcome(2, error="AuthError: no", error_type="AuthError"),
        JobOutcome(3, error="line 4: blank line", error_type="InvalidInput"),
    ]
    summary = BatchSummary.of(outcomes)
    assert summary.failures_by_type == {"AuthError": 2, "InvalidInput": 1}
    assert summary.requeued == 1
    body = summary.as_json()
    assert body["failuresByType"] == {"AuthError": 2, "InvalidInput": 1} and body["failures"] == 3
    buffer = io.StringIO()
    summary.print(Console(file=buffer, width=40))
    assert "failures by type: AuthError 2, InvalidInput 1" in buffer.getvalue()


def test_a_clear_that_reached_nothing_claims_nothing() -> None:
    from llmix_workers.cli.tables import print_clear
    from llmix_workers.fleet.control import ClearReport

    buffer = io.StringIO()
    report = ClearReport(None, 0, "fleet state unreachable, nothing cleared: Error 111")
    print_clear(report, Console(file=buffer, width=80))
    text = buffer.getvalue()
    assert "generation None" not in text and "stay blocked" not in text
    assert "nothing cleared" in text


def test_stats_name_a_process_without_a_usable_key() -> None:
    buffer = io.StringIO()
    answer = _answer("k1@h") | {"apiKeys": {"openai": {"keys": 1, "usable": 0, "retryInS": 42.0}}}
    print_stats(Replies([answer, _answer("ok@h")], [], 0.1), 0, Console(file=buffer, width=80))
    text = buffer.getvalue()
    assert "k1@h (pid 123456): no usable API key for openai (rejected; retried in 42 s)" in text
    assert "ok@h (pid" not in text


def test_a_clear_names_expired_silent_and_unproven_processes() -> None:
    from llmix_workers.cli.tables import print_clear
    from llmix_workers.fleet.control import ClearReport

    buffer = io.StringIO()
    report = ClearReport(4, 2, None, acks=[{"node": "a@h", "pid": 1, "dropped": 3}],
                         silent=["b@h|2"], expired=["c@h|3"],
                         unproven="0 of 1 replicas acknowledged the clear")  # fmt: skip
    print_clear(report, Console(file=buffer, width=120))
    text = buffer.getvalue()
    assert "b@h (pid 2)" in text and "still serving an older generation: b@h|2" in text
    assert "c@h (pid 3)" in text and "lease ran out" in text
    assert "not proven complete: 0 of 1 replicas" in text and "clear complete" not in text
