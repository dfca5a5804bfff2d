"""The LLMix two-tier response cache: keys, L1, L2 backends, the tiered policy."""
