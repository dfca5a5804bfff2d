"""telemetry/bound.py writes prometheus-client's private fields (a single-process value's float,
a histogram child's bounds, buckets and sum): the public ``inc``/``observe`` cost 1.5x to 5.7x
more on a cache hit's path (measured: inc 1.53x, observe 2.40x, a hit's five values 5.69x). The
range of prometheus-client is pinned in pyproject.toml; this test fails loudly, naming the
installed version, when those internals move, instead of bound.py silently falling back to the
slow public path.
"""

from __future__ import annotations

import threading
from importlib.metadata import version

from prometheus_client import CollectorRegistry, Counter, Histogram

from llmix_workers.telemetry.bound import (
    _mutex,
    bound_hit,
    bound_inc,
    bound_observe,
    histogram_parts,
)

MOVED = (
    f"prometheus-client {version('prometheus-client')} moved the internals telemetry/bound.py "
    "writes: update bound.py for it, or keep pyproject.toml's range below this version"
)


def test_the_fast_paths_are_taken_on_the_pinned_version() -> None:
    registry = CollectorRegistry()
    counter = Counter("c", "c", ["x"], registry=registry).labels("a")
    histogram = Histogram("h", "h", ["x"], registry=registry, buckets=(0.01, 1)).labels("a")
    assert _mutex(getattr(counter, "_value", None)) is not None, MOVED
    assert histogram_parts(histogram) is not None, MOVED
    lock = threading.Lock()
    saved = (Counter("s", "s", registry=registry), Counter("t", "t", registry=registry))
    usd = Counter("u", "u", registry=registry)
    assert bound_hit(counter, histogram, saved, usd, lock) is not None, MOVED


def test_what_the_fast_paths_write_is_what_a_scrape_reads() -> None:
    registry = CollectorRegistry()
    counter = Counter("c", "c", ["x"], registry=registry).labels("a")
    histogram = Histogram("h", "h", ["x"], registry=registry, buckets=(0.01, 1)).labels("a")
    saved = (Counter("s", "s", registry=registry), Counter("t", "t", registry=registry))
    usd = Counter("u", "u", registry=registry)
    lock = threading.Lock()
    bound_inc(counter, lock)(2)
    bound_observe(histogram, lock)(0.5)
    hit = bound_hit(counter, histogram, saved, usd, lock)
    assert hit is not None, MOVED
    hit(0.005, 3, 4, 0.25)
    value = registry.get_sample_value
    assert value("c_total", {"x": "a"}) == 3
    assert value("h_bucket", {"x": "a", "le": "0.01"}) == 1
    assert value("h_bucket", {"x": "a", "le": "1.0"}) == 2
    assert value("h_count", {"x": "a"}) == 2 and value("h_sum", {"x": "a"}) == 0.505
    assert (value("s_total"), value("t_total"), value("u_total")) == (3, 4, 0.25)
