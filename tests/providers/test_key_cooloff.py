"""Issue 14 defect 9 and issue 11 defect 4: a rejected key comes back after a cool-off, and a
401 from a request's own ``baseUrl`` never retires the provider's shared key."""

from __future__ import annotations

import pytest

from llmix_workers.errors import AuthError
from llmix_workers.llm.request import LLMRequest
from llmix_workers.testing.clock import FakeClock
from llmix_workers.testing.stub import StubProvider, key_fingerprint
from tests.llm_support import SECRET_KEY
from tests.providers.conftest import ClientFactory


def ask(base_url: str | None = None) -> LLMRequest:
    return LLMRequest(provider="openai", model="m", base_url=base_url,
                      messages=[{"role": "user", "content": "hello"}])  # fmt: skip


def test_a_rejected_key_is_tried_again_after_the_cooloff(
    stub: StubProvider, make_client: ClientFactory, time: FakeClock
) -> None:
    client = make_client(key_cooloff_s=30)
    stub.script(reject_keys=[SECRET_KEY])
    with pytest.raises(AuthError):
        client.complete(ask())
    stub.script(reject_keys=[])
    time.tick(29)
    with pytest.raises(AuthError, match="retried in 1 s"):
        client.complete(ask())
    assert stub.calls()["total"] == 1
    time.tick(1)
    assert client.complete(ask()).content.startswith("Stub answer ")
    assert stub.calls()["by_key"] == {key_fingerprint(SECRET_KEY): 2}


def test_a_401_from_a_foreign_base_url_leaves_the_shared_key_alone(
    stub: StubProvider, make_client: ClientFactory
) -> None:
    client = make_client()
    with StubProvider() as foreign:
        foreign.script(reject_keys=[SECRET_KEY])
        with pytest.raises(AuthError):
            client.complete(ask(base_url=foreign.base_url + "/v1"))
        with pytest.raises(AuthError):  # that endpoint keeps refusing, without a call
            client.complete(ask(base_url=foreign.base_url + "/v1"))
        assert foreign.calls()["total"] == 1
    assert client.complete(ask()).content.startswith("Stub answer ")
    assert stub.calls()["total"] == 1


def test_key_health_says_when_no_key_is_usable(
    stub: StubProvider, make_client: ClientFactory, time: FakeClock
) -> None:
    client = make_client(key_cooloff_s=60)
    router = client.inner
    stub.script(reject_keys=[SECRET_KEY])
    with pytest.raises(AuthError):
        client.complete(ask())
    health = router.key_health()["openai"]  # type: ignore[attr-defined]
    assert health == {"keys": 1, "usable": 0, "retryInS": 60.0}
    time.tick(60)
    assert router.key_health()["openai"]["usable"] == 1  # type: ignore[attr-defined]


def test_a_missing_key_says_it_is_needed_where_the_workers_run() -> None:
    from llmix_workers.llm.router import ProviderRouter
    from llmix_workers.settings import LLMSettings

    router = ProviderRouter(LLMSettings(), env={})
    try:
        with pytest.raises(AuthError, match="OPENAI_API_KEY .* where the workers run"):
            router.provider("openai")
        assert router.key_health() == {}
    finally:
        router.close()
