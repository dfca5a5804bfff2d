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
"""

from __future__ import annotations

import logging

from celery.worker.consumer import Consumer

logger = logging.getLogger(__name__)


class LlmixConsumer(Consumer):  # type: ignore[misc]
    """Celery's consumer (``worker_consumer``); see the module docstring."""

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        try:
            super().on_connection_error_after_connected(exc)
        except Exception as failed:
            if self.connection is not None:  # not the close of the lost connection: a real error
                raise
            logger.warning("closing the lost broker connection failed (%r); reconnecting", failed)
            # the rest of Celery's handling, now that there is no connection left to close
            super().on_connection_error_after_connected(exc)
