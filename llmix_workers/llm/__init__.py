"""LLM providers over HTTP with the LLMix resilience rules."""
