"""Fleet-wide budgets on every Redis topology: the budget's script runs on standalone, Sentinel
and Cluster alike (its keys share the fleet's hash tag, one slot)."""

from __future__ import annotations

import pytest

from llmix_workers.settings import load_settings
from llmix_workers.testing.topology import TopologyServers
from llmix_workers.wiring.budgets import build_budgets


@pytest.mark.parametrize("name", ["standalone", "sentinel", "cluster"])
def test_one_budget_is_shared_on_every_topology(
    name: str, llmix_topology_servers: TopologyServers
) -> None:
    url = llmix_topology_servers.topology(name).redis_url
    budget = {name: {"rpm": 1}}  # a budget name of its own per topology: servers are shared
    # Round trips may take up to 5 s: with the 0.25 s default, one slow answer of a loaded
    # machine turned the first draw into a local one (refused: the process's share of 1 rpm),
    # and this test is about the shared script, not about timeouts (CI ci64)
    redis_section = {"url": url, "socket_timeout_s": 5}
    first = build_budgets(load_settings(redis=redis_section, llm={"budgets": budget}))
    second = build_budgets(load_settings(redis=redis_section, llm={"budgets": budget}))
    assert first is not None and second is not None
    drawn = first.draw(name, "m", 10, max_wait_s=0)
    assert drawn.granted and drawn.factor == 1
    refused = second.draw(name, "m", 10, max_wait_s=0)
    assert not refused.granted and refused.wait_s > 30
    drawn.shrink(retry_after_s=1)
    assert second.draw(name, "m", 10, max_wait_s=0).factor < 1
