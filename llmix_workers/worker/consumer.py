"""LlmixConsumer: Celery's consumer, kept alive when closing a lost broker connection fails.

When the broker connection drops (a Redis restart, a Sentinel failover), Celery's consumer
collects the broken connection, closes it, then reconnects. Celery 5.7 closes it with
``kombu.common.ignore_errors``, which lets through anything that is not one of the transport's
connection or channel errors; kombu's Redis channel, asked again to give back its
unacknowledged messages after ``collect()`` has dropped its transport's connection details,
raises ``AttributeError`` there, and the worker stops ("Unrecoverable error") instead of
reconnecting. Seen with a Sentinel broker and a prefork node holding unacknowledged jobs when
the primary died. Celery 5.6 swallowed any error at that step; this does the same, and the
messages come back as for any lost connection (after ``worker.visibility_timeout_s``).

The same ``AttributeError`` comes later too: a prefork child finishes a job received on the lost
connection, and its acknowledgement runs in the event loop against the collected channel. That
escapes the loop as no connection error, and Celery stopped the worker (seen in CI: a prefork
node answered nothing after a Sentinel failover). :meth:`LlmixConsumer.start` treats an
``AttributeError`` raised inside kombu's Redis transport as the connection loss it is: the
consumer reconnects, the unacknowledged message comes back after the visibility timeout.
"""

from __future__ import annotations

import logging
import traceback

from celery.bootsteps import RUN
from celery.worker.consumer import Consumer

logger = logging.getLogger(__name__)


class LlmixConsumer(Consumer):  # type: ignore[misc]
    """Celery's consumer (``worker_consumer``); see the module docstring."""

    def start(self) -> None:
        while True:
            try:
                super().start()
                return
            except AttributeError as exc:
                if not from_a_collected_channel(exc) or self.blueprint.state != RUN:
                    raise
                logger.warning("a broker call on the lost connection failed (%r): reconnecting",
                               exc)  # fmt: skip
                if self.connection is not None:
                    self.on_connection_error_after_connected(exc)
                self.on_close()
                self._cancel_connection_timer_entries()
                self.blueprint.restart(self)

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        try:
            super().on_connection_error_after_connected(exc)
        except Exception as failed:
            if self.connection is not None:  # not the close of the lost connection: a real error
                raise
            logger.warning("closing the lost broker connection failed (%r); reconnecting", failed)
            # the rest of Celery's handling, now that there is no connection left to close
            super().on_connection_error_after_connected(exc)


def from_a_collected_channel(exc: AttributeError) -> bool:
    """Whether ``exc`` was raised inside kombu's Redis transport (a channel whose connection
    details ``collect()`` dropped), not by a bug elsewhere."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.replace("\\", "/").endswith(
        "kombu/transport/redis.py"
    )
