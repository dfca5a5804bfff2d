"""Thinking tags: ``<think>…</think>`` taken out of what callers get, never out of the cache."""

from __future__ import annotations

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


def strip_thinking(text: str) -> tuple[str, str | None]:
    """Split ``text`` into (content, thinking).

    Every ``<think>`` opens a block that the next ``</think>`` closes; a block left open runs to
    the end. A ``<think>`` inside a block is plain thinking text, so a second ``</think>`` stays
    in the content. Content is what lies outside the blocks, trimmed; thinking is the blocks'
    text, each trimmed, joined with ``\\n``, or ``None`` when there is no block. Text without a
    ``<think>`` comes back unchanged.
    """
    if OPEN_TAG not in text:
        return text, None
    content: list[str] = []
    thinking: list[str] = []
    position = 0
    while (start := text.find(OPEN_TAG, position)) != -1:
        content.append(text[position:start])
        start += len(OPEN_TAG)
        end = text.find(CLOSE_TAG, start)
        if end == -1:
            thinking.append(text[start:].strip())
            position = len(text)
            break
        thinking.append(text[start:end].strip())
        position = end + len(CLOSE_TAG)
    content.append(text[position:])
    return "".join(content).strip(), "\n".join(thinking)
