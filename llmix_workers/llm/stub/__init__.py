"""The stub provider: a real loopback HTTP server that speaks like OpenAI and Anthropic."""

from llmix_workers.llm.stub.answers import request_digest
from llmix_workers.llm.stub.control import StubControl
from llmix_workers.llm.stub.faults import Fault
from llmix_workers.llm.stub.server import StubProvider
from llmix_workers.llm.stub.state import key_fingerprint
from llmix_workers.redis_server import free_port

__all__ = ["Fault", "StubControl", "StubProvider", "free_port", "key_fingerprint", "request_digest"]
