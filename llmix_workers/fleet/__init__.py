"""Fleet-wide coordination through Redis: generation, blocked flag, members, clears, locks."""
