"""Key pools over HTTP: 401 retires a key, 429 rotates, and no key ever leaks."""

from __future__ import annotations

import logging

import pytest

from llmix_workers.errors import AuthError, LLMError
from llmix_workers.llm.request import LLMRequest
from llmix_workers.llm.router import ProviderRouter
from llmix_workers.testing.stub import StubProvider, key_fingerprint
from tests.llm_support import SECOND_KEY, SECRET_KEY
from tests.providers.conftest import ClientFactory

POOL = f"{SECRET_KEY},{SECOND_KEY}"


def ask(provider: str = "openai", text: str = "hello") -> LLMRequest:
    return LLMRequest(provider=provider, model="m", messages=[{"role": "user", "content": text}])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_401_retires_the_key_and_the_next_key_is_used(
    provider: str, stub: StubProvider, make_client: ClientFactory
) -> None:
    stub.script(reject_keys=[SECRET_KEY])
    client = make_client(keys={provider: POOL})
    assert client.complete(ask(provider)).content.startswith("Stub answer ")
    assert client.complete(ask(provider)).content.startswith("Stub answer ")
    assert stub.calls()["by_key"] == {
        key_fingerprint(SECRET_KEY): 1,
        key_fingerprint(SECOND_KEY): 2,
    }
    assert stub.calls()["by_outcome"] == {"401": 1, "ok": 2}


def test_when_every_key_is_rejected_the_call_fails_with_auth_error(
    stub: StubProvider, make_client: ClientFactory
) -> None:
    stub.script(reject_keys=[SECRET_KEY, SECOND_KEY])
    client = make_client(keys={"openai": POOL})
    with pytest.raises(AuthError) as raised:
        client.complete(ask())
    assert raised.value.status == 401
    assert not raised.value.retryable
    assert stub.calls()["total"] == 2
    with pytest.raises(AuthError, match="every API key for openai was rejected"):
        client.complete(ask())
    assert stub.calls()["total"] == 2


def test_429_rotates_to_the_next_key(stub: StubProvider, make_client: ClientFactory) -> None:
    stub.script(429)
    make_client(keys={"openai": POOL}).complete(ask())
    requests = stub.requests()
    assert [r["key"] for r in requests] == [
        key_fingerprint(SECRET_KEY),
        key_fingerprint(SECOND_KEY),
    ]


def test_no_secret_in_any_log_record_or_error_text(
    stub: StubProvider, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stub.script(reject_keys=[SECRET_KEY, SECOND_KEY])
    client = make_client(keys={"openai": POOL, "anthropic": POOL}, max_attempts=2)
    errors: list[LLMError] = []
    for provider in ("openai", "anthropic"):
        with pytest.raises(AuthError) as raised:
            client.complete(ask(provider))
        errors.append(raised.value)
    assert stub.calls()["by_outcome"] == {"401": 4}
    stub.reset()
    stub.script(400, "reset", 503, "malformed", "truncated")
    fresh = make_client(keys={"openai": POOL}, max_attempts=2)
    for text in ("a", "b", "c"):
        try:
            fresh.complete(ask(text=text))
        except LLMError as exc:
            errors.append(exc)
    kinds = [type(exc).__name__ for exc in errors[2:]]
    assert kinds == ["BadRequest", "ProviderUnavailable", "ProviderUnavailable"]
    assert any("Incorrect API key provided: [redacted]" in str(exc) for exc in errors)
    texts = [record.getMessage() for record in caplog.records]
    texts += [f"{record.args!r} {record.exc_text or ''}" for record in caplog.records]
    texts += [str(exc) for exc in errors] + [repr(exc) for exc in errors]
    assert isinstance(client.inner, ProviderRouter)
    texts += [repr(client.inner), repr(client.inner.provider("openai"))]
    assert caplog.records
    for text in texts:
        assert SECRET_KEY not in text
        assert SECOND_KEY not in text
        assert "SECRET-0123" not in text
