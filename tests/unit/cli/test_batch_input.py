"""Issue 14 defects 4, 5, 10 and issue 11 defect 6: bad input fails alone, before sending."""

from __future__ import annotations

import io
import json
from pathlib import Path

from llmix_workers.cli.batch import read_jsonl, write_jsonl
from llmix_workers.producer import JobOutcome
from llmix_workers.testing.redis_server import free_port
from tests.unit.cli.support import one_line_error, run_cli

GOOD = b'{"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "hi"}]}'


def test_blank_and_non_utf8_lines_keep_one_item_per_input_line() -> None:
    data = GOOD + b"\n\n" + b'{"bad": "\xff\xfe"}\n' + GOOD + b"\n"
    items = read_jsonl(io.BytesIO(data))
    assert len(items) == 4
    assert (
        isinstance(items[1], Exception) and "line 2" in str(items[1]) and "blank" in str(items[1])
    )
    assert (
        isinstance(items[2], Exception) and "line 3" in str(items[2]) and "UTF-8" in str(items[2])
    )
    assert not isinstance(items[0], Exception) and not isinstance(items[3], Exception)


def test_a_lone_surrogate_in_an_answer_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    outcomes = [JobOutcome(0, output={"content": "a\ud800b"}), JobOutcome(1, error="boom")]
    write_jsonl(outcomes, str(out))
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["content"] == "a\ud800b"
    assert json.loads(lines[1])["error"] == "boom"


def test_unhashable_cache_modes_name_the_field() -> None:
    from llmix_workers.errors import InvalidRequest
    from llmix_workers.jobs.job import CompletionJob

    for bad in ([], {}):
        payload = {**json.loads(GOOD), "cache": bad}
        try:
            CompletionJob.from_payload(payload)
        except InvalidRequest as exc:
            assert str(exc).startswith("cache:")
        else:
            raise AssertionError(f"cache={bad!r} accepted")


def test_output_into_a_missing_folder_is_refused_before_sending(tmp_path: Path) -> None:
    batch = tmp_path / "jobs.jsonl"
    batch.write_bytes(GOOD + b"\n")
    done = run_cli(
        "enqueue", "--jsonl", str(batch), "--wait", "--output", str(tmp_path / "nope" / "o.jsonl"),
        env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"},
    )  # fmt: skip
    line = one_line_error(done)
    assert "nope" in line and "127.0.0.1" not in line


def test_output_without_wait_is_refused() -> None:
    done = run_cli(
        "enqueue", "hi", "--output", "o.jsonl", env={"REDIS_URL": "redis://127.0.0.1:1/0"}
    )
    assert done.returncode == 2 and "--wait" in done.stderr


def test_an_empty_prompt_is_refused() -> None:
    done = run_cli("enqueue", "  ", env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert done.returncode == 2 and "empty" in done.stderr
