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


LEAKY_TESTS = """
import gc
import socket

from llmix_workers.testing.redis_server import free_port

held = []


class Cycle:
    def __init__(self, sock):
        self.sock = sock
        self.me = self


def test_leaves_a_connection_to_its_server():
    port = free_port()
    server = socket.create_server(("127.0.0.1", port))
    held.append(server)
    print("PORT", port)
    Cycle(socket.create_connection(("127.0.0.1", port)))  # never closed: garbage in a cycle


def test_collects_the_garbage():
    gc.collect()
    held.pop().close()
"""


def test_an_unclosed_socket_names_the_test_its_server_port_went_to(
    pytester: pytest.Pytester,
) -> None:
    """A socket left unclosed in a reference cycle fails whichever later test collects it (the
    suite turns ResourceWarnings into errors): the report names the test that drew the port."""
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", "-s")
    result.assert_outcomes(passed=1, failed=1)
    port = next(line.split("PORT ")[1] for line in result.outlines if "PORT " in line)
    result.stdout.fnmatch_lines([
        f"*port {port} was drawn by test_leaky.py::test_leaves_a_connection_to_its_server (call)*"
    ])  # fmt: skip
