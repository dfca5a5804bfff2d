"""The composition: a CompletionJob through key, cache, one flight, provider and back."""
