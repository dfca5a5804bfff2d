"""``python -m docgen``: write the generated reference pages; ``--check``: only compare."""

from __future__ import annotations

import sys

from docgen import ROOT, stale_pages, write_pages


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = stale_pages()
        for path in stale:
            print(f"{path.relative_to(ROOT)} is not what the code makes: run `make reference`")
        return 1 if stale else 0
    for path in write_pages():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
