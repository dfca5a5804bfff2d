"""Moved to :mod:`llmix_workers.testing.stub`; this name stays for code written against it."""

from llmix_workers.testing.stub import Fault, StubControl, StubProvider

__all__ = ["Fault", "StubControl", "StubProvider"]
