"""The pytest plugin (``pytest11`` entry point): a user's test session gets the ``llmix_*``
fixtures by installing the package, with nothing in its conftest."""

from __future__ import annotations

import pytest

USER_TESTS = """
from llmix_workers.cache.tiered import TwoTierCache
from llmix_workers.jobs.job import CompletionJob
from llmix_workers.jobs.service import CompletionService
from llmix_workers.settings import load_settings
from llmix_workers.wiring.cache import build_response_cache


def test_a_service_over_the_private_redis(llmix_redis_url, llmix_fake_client):
    cache = build_response_cache(load_settings(redis={"url": llmix_redis_url}))
    service = CompletionService(cache, llmix_fake_client)
    job = CompletionJob.from_payload({"provider": "openai", "model": "m",
                                      "messages": [{"role": "user", "content": "hi"}]})
    assert service.complete(job)["cacheHit"] is None
    assert service.complete(job)["cacheHit"] == "l1"
    assert len(llmix_fake_client.requests) == 1


def test_the_stub_answers(llmix_stub):
    import httpx
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    reply = httpx.post(llmix_stub.base_url + "/v1/chat/completions", json=body, timeout=10)
    assert reply.status_code == 200 and reply.json()["choices"]


def test_the_clock_is_hand_cranked(llmix_clock):
    start = llmix_clock()
    llmix_clock.tick(5)
    assert llmix_clock() == start + 5
"""


def test_a_users_session_gets_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_users=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3)


def test_the_plugin_is_registered_as_an_entry_point() -> None:
    from importlib.metadata import entry_points

    found = [e.value for e in entry_points(group="pytest11") if e.name == "llmix_workers"]
    assert found == ["llmix_workers.testing.plugin"]
