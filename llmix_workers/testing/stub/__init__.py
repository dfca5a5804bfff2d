"""The stub provider: a real loopback HTTP server that speaks like OpenAI and Anthropic."""

from llmix_workers.testing.redis_server import free_port
from llmix_workers.testing.stub.answers import request_digest
from llmix_workers.testing.stub.control import StubControl
from llmix_workers.testing.stub.faults import Fault
from llmix_workers.testing.stub.server import StubProvider
from llmix_workers.testing.stub.state import key_fingerprint

__all__ = ["Fault", "StubControl", "StubProvider", "free_port", "key_fingerprint", "request_digest"]
