"""NoWorkerWatchdog: warns within seconds when no live worker consumes the batch's queue."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from llmix_workers.results import BACKEND_ERRORS


class NoWorkerWatchdog:
    """Asks the workers (Celery remote control) which queues they consume, right away and then
    every ``every_s`` seconds while the batch waits; calls ``warn`` once per stretch without a
    consumer of ``queue``. Runs in a daemon thread; :meth:`stop` ends it."""

    def __init__(
        self,
        app: Any,
        queue: str,
        warn: Callable[[str], None],
        *,
        every_s: float = 10.0,
        reply_timeout_s: float = 1.0,
    ) -> None:
        self.app = app
        self.queue = queue
        self.warn = warn
        self.every_s = every_s
        self.reply_timeout_s = reply_timeout_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="llmix-watchdog", daemon=True)

    def start(self) -> NoWorkerWatchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def consumers(self) -> list[str]:
        """Node names of the live workers that consume ``queue``."""
        replies = self.app.control.inspect(timeout=self.reply_timeout_s).active_queues() or {}
        return sorted(
            node for node, queues in replies.items()
            if any(q.get("name") == self.queue for q in queues or [])
        )  # fmt: skip

    def _run(self) -> None:
        warned = False
        while not self._stop.is_set():
            try:
                live = self.consumers()
            except BACKEND_ERRORS:
                live = ["?"]  # the broker hiccuped: no verdict this round
            if not live and not warned and not self._stop.is_set():
                self.warn(
                    f"warning: no live worker consumes queue {self.queue!r}; the jobs wait "
                    "until one starts (llmix-workers worker -Q " + self.queue + ")"
                )
            warned = not live
            self._stop.wait(self.every_s)
