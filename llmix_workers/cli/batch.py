"""Batch files: one item per input line in, one JSON line per input line out.

A line that cannot become a request (blank, not UTF-8, not JSON) is an error item naming its
line number, so output line N always answers input line N. Output is written even when an
answer holds text JSON cannot carry as UTF-8 (a lone surrogate): that line falls back to
ASCII-escaped JSON, which every JSON reader accepts.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from llmix_workers.errors import ConfigError

if TYPE_CHECKING:
    from llmix_workers.producer import JobOutcome

Item = Mapping[str, Any] | Exception


def read_jsonl(handle: IO[bytes]) -> list[Item]:
    """One item per input line: the parsed object, or an error naming the line and fault."""
    items: list[Item] = []
    for number, raw in enumerate(handle, start=1):
        items.append(_parse(number, raw))
    return items


def _parse(number: int, raw: bytes) -> Item:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ValueError(f"line {number}: not UTF-8 (byte {raw[exc.start]:#04x} at column "
                          f"{exc.start + 1})")  # fmt: skip
    if not text.strip():
        return ValueError(f"line {number}: blank line (no request)")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return ValueError(f"line {number}: not valid JSON ({exc})")
    if not isinstance(value, dict):
        return ValueError(f"line {number}: must be a JSON object (got {type(value).__name__})")
    return value


def encode_line(line: Mapping[str, Any]) -> bytes:
    """``line`` as one JSON line; ASCII-escaped when it holds a lone surrogate."""
    try:
        return orjson.dumps(line) + b"\n"
    except TypeError:
        return json.dumps(line, ensure_ascii=True, default=str).encode("ascii") + b"\n"


def write_jsonl(outcomes: Iterable[JobOutcome], output: str | None) -> None:
    """The outcomes as JSONL, in input order, to ``output`` (stdout when None)."""
    data = b"".join(encode_line(o.line()) for o in outcomes)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(output).write_bytes(data)


def check_writable(output: str | None, option: str = "--output") -> None:
    """Refuse, before any job is sent, an output file that could not be written.

    Raises:
        ConfigError: its folder does not exist or is not writable, or it is a folder.
    """
    if output is None:
        return
    path = Path(output)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ConfigError(f"{option} {output}: is a folder")
    if not folder.is_dir():
        raise ConfigError(f"{option} {output}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{option} {output}: not writable")
