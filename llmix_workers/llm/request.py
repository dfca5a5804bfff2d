"""LLMRequest in, LLMResult out: the data that crosses every provider.

Both accept the camelCase wire names of the LLMix bindings and the snake_case attribute names.
``messages`` are kept exactly as given (plain dicts), because they are hashed into the cache key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from llmix_workers.errors import InvalidRequest

ROLES = frozenset({"system", "user", "assistant", "tool"})


class _Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        strict=True,
    )


class LLMRequest(_Wire):
    """One completion request. Validation errors name the field (``messages[1].role``)."""

    provider: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    model: str = Field(min_length=1, max_length=256)
    messages: list[dict[str, Any]] = Field(min_length=1)
    base_url: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_output_tokens: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = Field(None, ge=1)
    seed: int | None = None
    stop_sequences: list[str] | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    response_format: dict[str, Any] | None = None
    provider_options: dict[str, Any] | None = None
    enable_thinking: bool | None = None

    @field_validator("messages")
    @classmethod
    def _valid_messages(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, message in enumerate(messages):
            role = message.get("role")
            if role not in ROLES:
                allowed = ", ".join(sorted(ROLES))
                raise ValueError(f"messages[{index}].role must be one of {allowed} (got {role!r})")
            content = message.get("content")
            if content is None and role == "assistant" and message.get("tool_calls"):
                continue
            if not isinstance(content, str | list):
                raise ValueError(
                    f"messages[{index}].content must be a string or a list of parts"
                    f" (got {type(content).__name__})"
                )
        return messages

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> LLMRequest:
        """Validate a plain mapping (a task payload, a JSONL line).

        Raises:
            InvalidRequest: the payload is not a valid request; the message names every field.
        """
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(_field_name(part) for part in error['loc']) or 'request'}: "
                f"{error['msg']}"
                for error in exc.errors(include_url=False, include_input=False)
            )
            raise InvalidRequest(f"invalid LLM request: {problems}") from None

    def wire(self) -> dict[str, Any]:
        """The whole request as camelCase JSON-ready data (what a task payload carries)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class Usage(_Wire):
    """Token counts reported by the provider (zero when it reported none)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class LLMResult(_Wire):
    """What a provider answered. ``content`` is raw: thinking tags are still in it."""

    content: str
    model: str
    provider: str
    usage: Usage = Usage()
    headers: dict[str, str] = Field(default_factory=dict)
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None


def _field_name(part: object) -> str:
    """A field name as an error message shows it: quoted when it is empty or not printable
    (a key of ``"\\n"`` must not break the message's one line)."""
    text = str(part)
    return text if text.isprintable() and text.strip() == text and text else repr(text)
