"""Prefork metrics: prometheus-client multiprocess mode in a private folder per worker node.

Every prefork child writes its samples to memory-mapped files in the node's folder; the node's
``/metrics`` endpoint merges them with :func:`multiprocess_registry`. Counters and histograms of
exited children keep counting (totals never go back); the ``live*`` gauges (L1 entries, worker
processes, L2 health, generation, breaker state) drop a child once :func:`mark_dead` is called
for it. The threads and solo pools need none of this.

Order matters: :func:`prepare_node_dir` runs in the node's main process before the pool forks
and before any :class:`~llmix_workers.telemetry.metrics.Metrics` exists in that process.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Final

from prometheus_client import CollectorRegistry, multiprocess, values

ENV_VAR: Final = "PROMETHEUS_MULTIPROC_DIR"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def node_dir(base: str | Path, node_name: str) -> Path:
    """The node's private folder: ``<base or temp>/llmix-metrics-<node name, sanitised>``."""
    root = Path(base) if str(base) else Path(tempfile.gettempdir())
    return root / f"llmix-metrics-{_UNSAFE.sub('_', node_name)}"


def prepare_node_dir(base: str | Path, node_name: str) -> Path:
    """Empty (or create) the node's folder and switch this process to multiprocess mode.

    Sets ``PROMETHEUS_MULTIPROC_DIR`` (inherited by forked children) and re-selects
    prometheus-client's value class, which the library picks once when it is first imported;
    metrics created afterwards in this process and its children write to the folder. Only the
    node's own subfolder of ``base`` is ever deleted.

    Raises:
        OSError: the folder cannot be created or emptied.
    """
    path = node_dir(base, node_name)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.environ[ENV_VAR] = str(path)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return path


def leave_multiprocess_mode() -> None:
    """Undo :func:`prepare_node_dir` for this process (the folder stays): metrics created
    afterwards keep their values in memory again. For tests and embedded use."""
    os.environ.pop(ENV_VAR, None)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def is_multiprocess_mode() -> bool:
    """Whether metrics created now in this process write to a multiprocess folder."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def mark_dead(pid: int, path: str | Path | None = None) -> None:
    """Drop the ``live*`` gauge samples of process ``pid`` (a child that exited or was lost).

    ``path`` defaults to ``PROMETHEUS_MULTIPROC_DIR``. Safe to call twice or for a pid that never
    wrote anything; counters and histograms of ``pid`` are kept.
    """
    folder = str(path) if path is not None else os.environ.get(ENV_VAR)
    if folder:
        multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]


def multiprocess_registry(path: str | Path) -> CollectorRegistry:
    """A registry that merges every process's samples in ``path`` at each collection, after
    marking dead the children that are gone (so ``live*`` gauges count only live ones)."""
    registry = CollectorRegistry()
    registry.register(_Reaper(path))  # type: ignore[arg-type]
    multiprocess.MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    return registry


def mark_dead_children(path: str | Path) -> list[int]:
    """Mark dead every process of ``path`` whose live gauges remain but which no longer runs
    (a prefork child that was killed or recycled without its shutdown hook); return their pids."""
    dead: list[int] = []
    for file in Path(path).glob("gauge_live*_*.db"):
        pid_text = file.stem.rpartition("_")[2]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        mark_dead(int(pid_text), path)
        dead.append(int(pid_text))
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Reaper:
    """A collector that yields nothing, but first marks dead children (runs on every scrape)."""

    def __init__(self, path: str | Path) -> None:
        self._path = path

    def collect(self) -> list[object]:
        mark_dead_children(self._path)
        return []
