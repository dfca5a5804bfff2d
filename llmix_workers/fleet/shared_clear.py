"""SharedClear: one fleet clear for every node reached by one Celery broadcast.

A remote-control broadcast reaches every worker node's main process, and each node must answer
for its own processes; the clear itself must run once. The nodes agree on a round id (the
caller's ``request_id``, else the round open in Redis, else a new one opened with ``SET NX``);
the node that claims the round's result key runs :meth:`FleetControl.clear`, stores the report,
and every node answers with the acknowledgements of its own processes.

Without a caller's id, a broadcast that arrives while a round is running joins it (its clear
began after the broadcast was sent, so nothing stale survives it); once the round ends the next
broadcast opens a new one.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from llmix_workers.fleet.control import FleetControl

_RUNNING = b"running"
_POLL_S = 0.05
#: Beyond the acknowledgement timeout, how long a clear's L2 part may take before the nodes
#: waiting for it give up (and a round or claim left by a crashed node expires).
GRACE_S = 30.0


class SharedClear:
    """Runs or joins the round of one broadcast. Scope: one node's main process, one call.

    A node waits for another node's clear at most ``timeout_s`` + :data:`GRACE_S`; a report is
    kept ``result_ttl_s`` for repeats of the same id.
    """

    def __init__(self, control: FleetControl, *, result_ttl_s: float = 300.0) -> None:
        self.control = control
        self.result_ttl_s = result_ttl_s

    def run(
        self, node: str, request_id: str | None = None, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """This node's reply: how many of its processes dropped their L1 for the new
        generation, which stayed silent, and the clear's outcome.

        Raises:
            redis.RedisError, OSError: fleet state unreachable.
        """
        timeout_s = self.control.fleet.clear_timeout_s if timeout_s is None else timeout_s
        client, keys = self.control.client, self.control.keys
        opened = False
        round_id = request_id
        claim_ms = int((timeout_s + GRACE_S) * 1000)
        while round_id is None:
            candidate = uuid.uuid4().hex
            if client.set(keys.control_round, candidate, nx=True, px=claim_ms):
                round_id, opened = candidate, True
            elif (current := client.get(keys.control_round)) is not None:
                round_id = current.decode() if isinstance(current, bytes) else str(current)
        result_key = keys.control_result(round_id)
        ran = bool(client.set(result_key, _RUNNING, nx=True, px=claim_ms))
        if ran:
            try:
                report = self.control.clear(timeout_s=timeout_s).as_json()
                client.set(result_key, orjson.dumps(report), ex=int(self.result_ttl_s))
            finally:
                if opened and client.get(keys.control_round) == round_id.encode():
                    client.delete(keys.control_round)
        else:
            report = self._wait(result_key, timeout_s + GRACE_S)
        return _node_reply(report, node, round_id, ran)

    def _wait(self, result_key: str, limit_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            raw = self.control.client.get(result_key)
            if raw is None:
                break
            if raw != _RUNNING:
                report: dict[str, Any] = orjson.loads(raw)
                return report
            time.sleep(_POLL_S)
        return {"complete": False, "generation": None, "l2Deleted": 0, "acks": [], "silent": [],
                "l2Error": "the node running this clear did not report"}  # fmt: skip


def _node_reply(report: dict[str, Any], node: str, round_id: str, ran: bool) -> dict[str, Any]:
    acks = [ack for ack in report.get("acks", []) if ack.get("node") == node]
    silent = [member for member in report.get("silent", []) if member.split("|")[0] == node]
    return {
        "ok": "cleared" if report.get("complete") else "incomplete",
        "node": node, "requestId": round_id, "ranTheClear": ran,
        "processes": len(acks), "dropped": sum(int(a.get("dropped", 0)) for a in acks),
        "pids": sorted(int(a["pid"]) for a in acks), "silent": silent,
        "generation": report.get("generation"), "complete": bool(report.get("complete")),
        "l2Deleted": report.get("l2Deleted", 0), "l2Error": report.get("l2Error"),
        "expired": [m for m in report.get("expired", []) if m.split("|")[0] == node],
        "unproven": report.get("unproven"),
    }  # fmt: skip
