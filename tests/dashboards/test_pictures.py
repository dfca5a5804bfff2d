"""Each dashboard row has its rendered picture in the docs, and each picture is a readable PNG.

The pictures come from a real fleet (``make dashboard-pictures``, minutes); these checks are
fast and need no fleet: a row added to or removed from the dashboard without its picture, or a
picture left over from a removed row, fails here.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from docgen.dashboard_pictures import PICTURES, dashboard_rows, slug
from tests.dashboards.conftest import DASHBOARD_JSON, ROOT

WATCHING = ROOT / "docs" / "guides" / "watching.md"
MAX_BYTES = 150 * 1024
SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour type -> samples per pixel
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG whose every chunk's CRC holds and whose pixels decompress to
    the size its header announces (non-interlaced); AssertionError otherwise."""
    assert data.startswith(SIGNATURE), "not a PNG signature"
    offset, chunks, pixels = len(SIGNATURE), [], b""
    while offset < len(data):
        assert offset + 12 <= len(data), "truncated chunk"
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        assert offset + 12 + length <= len(data), "truncated chunk"
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in chunk {kind!r}"
        chunks.append(kind)
        if kind == b"IDAT":
            pixels += body
        offset += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and b"IDAT" in chunks, chunks
    header = data[16:29]
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert width > 0 and height > 0 and interlace == 0
    row_bytes = (width * CHANNELS[colour] * depth + 7) // 8
    assert len(zlib.decompress(pixels)) == height * (1 + row_bytes), "truncated pixel data"
    return width, height


def test_one_picture_per_dashboard_row() -> None:
    rows = {slug(row.title) for row in dashboard_rows(DASHBOARD_JSON)}
    pictures = {path.stem for path in PICTURES.glob("*.png")}
    assert len(rows) >= 4 and "" not in rows
    assert pictures == rows, "run `make dashboard-pictures` and commit docs/guides/dashboard/"


@pytest.mark.parametrize("path", sorted(PICTURES.glob("*.png")), ids=lambda p: p.name)
def test_each_picture_is_a_small_readable_png(path: Path) -> None:
    data = path.read_bytes()
    assert len(data) < MAX_BYTES, f"{path.name}: {len(data)} bytes"
    width, height = png_size(data)
    assert width >= 600 and height >= 100


def test_the_watching_guide_shows_every_picture() -> None:
    page = WATCHING.read_text(encoding="utf-8")
    for row in dashboard_rows(DASHBOARD_JSON):
        assert f"](dashboard/{row.picture})" in page, f"{row.title}: no picture in watching.md"


def test_the_checker_refuses_a_damaged_png() -> None:
    good = next(PICTURES.glob("*.png")).read_bytes()
    png_size(good)
    with pytest.raises(AssertionError):
        png_size(good[: len(good) // 2])
    damaged = bytearray(good)
    damaged[40] ^= 0xFF
    with pytest.raises(AssertionError):
        png_size(bytes(damaged))
