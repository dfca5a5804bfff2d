"""Provider implementations: one file per API, plus the scripted fake."""
