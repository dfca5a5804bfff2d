"""The ``llmix_cache_clear`` remote-control command: a fleet clear the Celery way.

``celery -A llmix_workers.celery_app control --timeout 15 llmix_cache_clear [request_id
[timeout_s]]`` or ``app.control.broadcast("llmix_cache_clear", reply=True, timeout=15)``: every
node replies once, saying how many of its processes (prefork children included) dropped their
L1 for the new generation. The clear runs once per broadcast
(:class:`~llmix_workers.fleet.shared_clear.SharedClear`). The command runs in each node's main
process and holds its consumer loop for up to ``fleet.clear_timeout_s``: give the broadcast a
reply timeout above that.
"""

from __future__ import annotations

from typing import Any, Final

from celery.worker.control import control_command

from llmix_workers.errors import LlmixError
from llmix_workers.fleet.client import REDIS_ERRORS
from llmix_workers.fleet.shared_clear import SharedClear
from llmix_workers.jobs.build import build_fleet_control

#: The remote-control command's name (``celery control <name>``).
CONTROL_CACHE_CLEAR: Final = "llmix_cache_clear"


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
