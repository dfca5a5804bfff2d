"""The ``llmix_cache_clear`` remote-control command: a fleet clear the Celery way.

``celery -A llmix_workers.celery_app control --timeout 15 llmix_cache_clear [request_id
[timeout_s]]`` or ``app.control.broadcast("llmix_cache_clear", reply=True, timeout=15)``: every
node replies once, saying how many of its processes (prefork children included) dropped their
L1 for the new generation. The clear runs once per broadcast
(:class:`~llmix_workers.fleet.shared_clear.SharedClear`): this app's :class:`LlmixControl` gives
every such broadcast a ``request_id`` the nodes share (a sender with another app and no id
falls back to a round opened in Redis). The command runs in each node's main process and holds
its consumer loop for up to ``fleet.clear_timeout_s``: give the broadcast a reply timeout above
that.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from celery.app.control import Control
from celery.worker.control import control_command

from llmix_workers.errors import LlmixError
from llmix_workers.fleet.shared_clear import SharedClear
from llmix_workers.topology.clients import REDIS_ERRORS
from llmix_workers.wiring.fleet import build_fleet_control

#: The remote-control command's name (``celery control <name>``).
CONTROL_CACHE_CLEAR: Final = "llmix_cache_clear"


class LlmixControl(Control):  # type: ignore[misc]
    """Celery's remote control, adding a fresh ``request_id`` to ``llmix_cache_clear``
    broadcasts that have none (``celery control`` and ``app.control.broadcast`` go through it)."""

    def broadcast(self, command: str, arguments: dict[str, Any] | None = None, *args: Any,
                  **kwargs: Any) -> Any:  # fmt: skip
        if command == CONTROL_CACHE_CLEAR and not (arguments or {}).get("request_id"):
            arguments = {**(arguments or {}), "request_id": uuid.uuid4().hex}
        return super().broadcast(command, arguments, *args, **kwargs)


@control_command(  # type: ignore[untyped-decorator]
    name=CONTROL_CACHE_CLEAR,
    args=[("request_id", str), ("timeout_s", float)],
    signature="[request_id [timeout_s]]",
)
def llmix_cache_clear(
    state: Any, request_id: str | None = None, timeout_s: float | None = None
) -> dict[str, Any]:
    """Clear the fleet once per broadcast; reply with this node's acknowledgements."""
    settings = state.app.settings
    try:
        control = build_fleet_control(settings)
    except LlmixError as exc:
        return {"error": f"cannot clear: {exc}"}
    try:
        return SharedClear(control).run(state.hostname, request_id or None, timeout_s)
    except REDIS_ERRORS as exc:
        return {"error": f"fleet state unreachable, nothing cleared: {exc}"}
    finally:
        control.close()
