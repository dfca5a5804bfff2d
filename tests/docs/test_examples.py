"""Every shell and Python example of the README and the site runs, or says why it cannot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmix_workers.testing.local_fleet import LocalFleet
from tests.docs.examples import ROOT, Page, pages, read_page
from tests.docs.runner import PageRun

PAGES = [read_page(path) for path in pages()]
RUNNABLE = [page for page in PAGES if page.runnable]


def _param(page: Page) -> object:
    marks = [pytest.mark.slow] if page.workers or _has_background(page) else []
    return pytest.param(page, id=str(page.path.relative_to(ROOT)), marks=marks)


def _has_background(page: Page) -> bool:
    return any("background" in block.options for block in page.runnable)


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFleet]:
    with LocalFleet(workdir=tmp_path_factory.mktemp("page")) as fleet:
        yield fleet


@pytest.mark.timeout(600)
@pytest.mark.parametrize("page", [_param(page) for page in RUNNABLE])
def test_page_examples_run(page: Page, fleet: LocalFleet, monkeypatch: pytest.MonkeyPatch) -> None:
    for index in range(page.workers):
        fleet.add_worker(f"docs{index}")
    session = PageRun(page, fleet, monkeypatch)
    try:
        for block in page.runnable:
            session.run(block)
    finally:
        session.close()


def test_every_example_runs_or_says_why_not() -> None:
    silent = [
        block.where
        for page in PAGES
        for block in page.blocks
        if block.kind and block.not_run is not None and len(block.not_run) < 15
    ]
    assert silent == [], "a not-run example needs a reason a reader understands"


def test_the_collector_sees_the_examples() -> None:
    readme = read_page(ROOT / "README.md")
    kinds = [block.kind for block in readme.blocks]
    assert kinds.count("shell") >= 3 and kinds.count("python") >= 1
    assert readme.blocks[0].not_run and "make test" in readme.blocks[0].code
    assert sum(len(page.runnable) for page in PAGES) >= 30
