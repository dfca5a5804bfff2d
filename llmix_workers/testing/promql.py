"""PromQL read out of the Grafana dashboard and the alert rules, ready to run on Prometheus.

:func:`dashboard_queries` substitutes the dashboard's template variables the way Grafana would
with "All" selected; :func:`metric_names` tells which ``llmix_*`` metric families an expression
reads, so a test can check them against the metrics catalogue.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_METRIC = re.compile(r"(?<![\w:])llmix_[A-Za-z0-9_]*")
_SERIES_SUFFIXES = ("_bucket", "_sum", "_count")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)([smhd])", duration)
    if match is None:
        raise ValueError(f"duration {duration!r}: expected a number and one of s, m, h, d")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def substitute(
    expr: str,
    job: str = ".*",
    instance: str = ".*",
    rate_interval: str = "1m",
    interval: str = "15s",
    range_: str = "5m",
) -> str:
    """``expr`` with Grafana's variables replaced: ``$job``/``${job}``, ``$instance``,
    ``$__rate_interval``, ``$__interval`` (``_ms``) and ``$__range`` (``_s``, ``_ms``).

    The defaults match "All" in both selectors (``.*``, the dashboard's ``allValue``).

    Raises:
        ValueError: ``expr`` uses a variable not listed here.
    """
    values = {
        "job": job,
        "instance": instance,
        "__rate_interval": rate_interval,
        "__interval": interval,
        "__interval_ms": str(_seconds(interval) * 1000),
        "__range": range_,
        "__range_s": str(_seconds(range_)),
        "__range_ms": str(_seconds(range_) * 1000),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise ValueError(f"unknown template variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(replace, expr)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_queries(path: str | Path, **variables: str) -> list[tuple[str, str]]:
    """Every ``(panel title, PromQL)`` of a dashboard JSON file, variables substituted.

    Panels nested in collapsed rows are included; targets without ``expr`` are skipped.
    ``variables`` are passed to :func:`substitute` (``job=``, ``instance=``, ``range_=``...).
    """
    dashboard = json.loads(Path(path).read_text(encoding="utf-8"))
    return [
        (panel.get("title", ""), substitute(target["expr"], **variables))
        for panel in _panels(dashboard.get("panels", []))
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def alert_queries(path: str | Path) -> list[tuple[str, str]]:
    """Every ``(alert or record name, PromQL)`` of a Prometheus rule file. Needs PyYAML."""
    import yaml

    rules = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return [
        (rule.get("alert") or rule["record"], str(rule["expr"]).strip())
        for group in rules["groups"]
        for rule in group["rules"]
    ]


def metric_names(expr: str) -> set[str]:
    """The ``llmix_*`` metric families ``expr`` reads, as exposition family names.

    String literals are ignored (``job="llmix_x"`` is no metric). A histogram's series
    ``X_bucket``, ``X_sum`` and ``X_count`` all name family ``X``; a counter keeps its
    ``_total``, which is part of the catalogue's family names.
    """
    names = set()
    for name in _METRIC.findall(_STRING.sub('""', expr)):
        for suffix in _SERIES_SUFFIXES:
            if name.endswith(suffix):
                name = name.removesuffix(suffix)
                break
        names.add(name)
    return names
