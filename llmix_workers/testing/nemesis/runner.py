"""Runner: plays a schedule against a cluster during the workload, then checks the history.

The runner lives in the test process (outside every host): it injects and heals faults on the
schedule's clock, asks the admin agent for clears, and records each fault it injected. When the
schedule is over it heals whatever is still broken, collects the agents' events and the stub's
call log, writes the merged history (``<workdir>/<name>.jsonl``, with the seed on its first
line, so a failure can be replayed and read) and returns the checker's verdict.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from llmix_workers.testing.nemesis import faults, history
from llmix_workers.testing.nemesis.agents import AgentProcess
from llmix_workers.testing.nemesis.checker import Verdict, check
from llmix_workers.testing.nemesis.cluster import NemesisCluster
from llmix_workers.testing.nemesis.history import Call, Event, Injected, now
from llmix_workers.testing.nemesis.schedule import Schedule, Step
from llmix_workers.testing.nemesis.workload import WorkloadPlan


@dataclass
class RunResult:
    schedule: Schedule
    verdict: Verdict
    history: Path
    events: list[Event]
    counts: dict[str, int] = field(default_factory=dict)


class Runner:
    """Owns the two agents of a cluster; :meth:`run` plays one schedule."""

    def __init__(self, cluster: NemesisCluster, workdir: Path, *, clear_timeout_s: float = 5.0,
                 keys: int = 12, pace_s: float = 0.03) -> None:  # fmt: skip
        self.cluster = cluster
        self.workdir = workdir
        self.clear_timeout_s = clear_timeout_s
        self.keys = keys
        self.pace_s = pace_s
        env = cluster.env()
        self.producer = AgentProcess(cluster.host("producer"), env, workdir)
        self.admin = AgentProcess(cluster.host("admin"), env, workdir)

    def start(self) -> Runner:
        self.producer.start()
        self.admin.start()
        return self

    def close(self) -> None:
        self.producer.close()
        self.admin.close()

    def run(self, schedule: Schedule) -> RunResult:
        began = now()
        injected: dict[tuple[str, str], float] = {}
        recorded: list[Event] = []
        background: list[Future[Any]] = []
        plan = WorkloadPlan(schedule.seed, tuple(self.cluster.names), schedule.seconds,
                            keys=self.keys, pace_s=self.pace_s)  # fmt: skip
        workload = self.producer.send("workload", plan=asdict(plan))
        clock = time.monotonic()
        for step in schedule.steps:
            time.sleep(max(0.0, clock + step.at_s - time.monotonic()))
            self._play(step, injected, recorded, background)
        counts = workload.result(timeout=schedule.seconds + 120)
        for (kind, target), start in list(injected.items()):
            self._heal(kind, target, start, injected, recorded)
        for future in background:
            future.result(timeout=120)
        events = self._collect(began, recorded)
        path = self.workdir / f"{_slug(schedule.name)}.jsonl"
        with path.open("wb") as out:
            meta = {"type": "run", "name": schedule.name, "seed": schedule.seed,
                    "steps": [asdict(step) for step in schedule.steps]}  # fmt: skip
            out.write(orjson.dumps(meta) + b"\n")
            out.writelines(history.to_line(event) for event in events)
        return RunResult(schedule, check(events), path, events, counts.get("counts", {}))

    def _play(self, step: Step, injected: dict[tuple[str, str], float], recorded: list[Event],
              background: list[Future[Any]]) -> None:  # fmt: skip
        if step.action == "clear":
            background.append(self._clear(step))
        elif step.action == "inject":
            faults.KINDS[step.kind].inject(self.cluster, step.target)
            injected[(step.kind, step.target)] = now()
        elif step.action == "heal" and (step.kind, step.target) in injected:
            self._heal(step.kind, step.target, injected[(step.kind, step.target)], injected,
                       recorded)  # fmt: skip
        elif step.action == "clear+fault":
            background.append(self._clear(step))
            time.sleep(step.delay_s)
            at = now()
            faults.KINDS[step.kind].inject(self.cluster, step.target)
            recorded.append(Injected(step.kind, step.target, at, now()))
        elif step.action == "failover":
            background.append(_in_thread(lambda: recorded.append(self._failover(step))))

    def _heal(self, kind: str, target: str, start: float,
              injected: dict[tuple[str, str], float], recorded: list[Event]) -> None:  # fmt: skip
        heal = faults.KINDS[kind].heal
        if heal is not None:
            heal(self.cluster, target)
        injected.pop((kind, target), None)
        recorded.append(Injected(kind, target, start, now()))

    def _clear(self, step: Step) -> Future[dict[str, Any]]:
        queue = step.queue or f"q-{self.cluster.names[0]}"  # a task needs a worker's queue
        return self.admin.send("clear", how=step.how, timeout_s=self.clear_timeout_s,
                               queue=queue, nodes=len(self.cluster.names))  # fmt: skip

    def _failover(self, step: Step) -> Injected:
        """Cut the replication link, clear, kill the primary: the sentinels promote a replica
        that never saw the clear (asynchronous replication's lost write)."""
        sentinel = self.cluster.sentinel
        assert sentinel is not None, "the failover step needs a Sentinel cluster"
        start = now()
        primary, replica = self.cluster.cache_servers()
        ends = (sentinel.host_of(primary).role, sentinel.host_of(replica).role)
        self.cluster.lab.cut(*ends)
        try:
            self._clear(step).result(timeout=self.clear_timeout_s + 120)
            primary.kill()
            sentinel.wait_for_failover(primary, 60.0)
        finally:
            self.cluster.lab.heal(*ends)
        return Injected(faults.FAILOVER, "cache", start, now())

    def _collect(self, began: float, recorded: list[Event]) -> list[Event]:
        events = [e for e in history.read([self.producer.history, self.admin.history])
                  if getattr(e, "start", began) >= began]  # fmt: skip
        assert self.cluster.stub is not None
        calls = [Call(int(c["call"]), float(c["at"]), self.cluster.client_of(str(c["client"])),
                      str(c["digest"])) for c in self.cluster.stub.trace()]  # fmt: skip
        return [*calls, *recorded, *events]


def _in_thread(fn: Any) -> Future[None]:
    future: Future[None] = Future()

    def run() -> None:
        try:
            fn()
            future.set_result(None)
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
