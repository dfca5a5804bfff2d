"""The settings reference: every option of the settings classes, with its meaning from
``settings.toml`` (see :mod:`docgen.settings_toml`)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, Final, Literal, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from docgen.markdown import BANNER, code, table
from docgen.settings_toml import SettingsFile, parse

SETTINGS_TOML: Final = Path(__file__).resolve().parent.parent / "settings.toml"


def sections() -> dict[str, type[BaseModel]]:
    """Section name -> its settings class, in the order of :class:`Settings`."""
    from llmix_workers.settings import Settings

    found = {}
    for name, info in Settings.model_fields.items():
        assert isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
        found[name] = info.annotation
    return found


def options() -> dict[str, FieldInfo]:
    """Every option by dotted path (``cache.ttl_s``); a table option is one entry."""
    return {
        f"{section}.{name}": info
        for section, model in sections().items()
        for name, info in model.model_fields.items()
    }


def table_options() -> set[str]:
    return {path for path, info in options().items() if get_origin(info.annotation) is dict}


def settings_file(path: Path = SETTINGS_TOML) -> SettingsFile:
    return parse(path, table_options())


def render_settings() -> str:
    from llmix_workers.settings import ENV_PREFIX, SETTINGS_FILE_ENV

    documented = settings_file()
    parts = [
        "# Settings",
        "",
        BANNER,
        "",
        "Every option, from the settings classes (type, default, allowed values) and "
        "`settings.toml` (meaning). Sources, lowest first: the defaults below, the settings file "
        f"(`./settings.toml`, or the file named by `{SETTINGS_FILE_ENV}` or `--settings`), "
        f"environment variables (`{ENV_PREFIX}` and the dotted path in capitals with `__` for "
        "each dot: `cache.ttl_s` is `LLMIX_CACHE__TTL_S`), then arguments given in code "
        '(`load_settings(cache={"ttl_s": 60})`). `REDIS_URL` is read as the LLMix bindings '
        "read it, below `LLMIX_REDIS__URL`. A value that is not allowed stops start-up with the "
        "option's name, where the value came from and what is allowed. Secrets (Redis "
        "passwords, API keys) belong in the environment, never in the file; "
        "`llmix-workers settings` prints what is in effect with secrets masked.",
        "",
    ]
    for section, model in sections().items():
        parts += [f"## `[{section}]`", "", _doc(model), ""]
        note = documented.notes.get(section)
        if note:
            parts += ["```text", note, "```", ""]
        rows = []
        for name, info in model.model_fields.items():
            path = f"{section}.{name}"
            option = documented.options.get(path)
            rows.append([
                code(path), _type(info), _default(info), _env(ENV_PREFIX, path, info),
                option.comment if option else "",
            ])  # fmt: skip
        parts += [table(["option", "type", "default", "environment variable", "meaning"], rows)]
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def _doc(model: type[BaseModel]) -> str:
    """The first paragraph of the section's docstring, without its pointer into these docs."""
    text = inspect.cleandoc(model.__doc__ or "").split("\n\n")[0].replace("\n", " ")
    return re.sub(r" \(docs/[^)]*\)", "", text)


def _env(prefix: str, path: str, info: FieldInfo) -> str:
    name = prefix + path.upper().replace(".", "__")
    if get_origin(info.annotation) is dict:
        return code(f"{name}__<NAME>") + " or " + code(name) + " as JSON"
    if path == "redis.url":
        return code(name) + ", " + code("REDIS_URL")
    return code(name)


def _type(info: FieldInfo) -> str:
    return _describe(info.annotation) + _bounds(info.metadata)


def _describe(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(code(_toml(arg)) for arg in args)
    if origin is dict:
        value = args[1]
        if isinstance(value, type) and issubclass(value, BaseModel):
            inner = ", ".join(f"{name}: {_describe(f.annotation)}"
                              for name, f in value.model_fields.items())  # fmt: skip
            return f"table: name → {{{inner}}}"
        return f"table: name → {_describe(value)}"
    if args and type(None) in args:
        rest = [arg for arg in args if arg is not type(None)]
        if rest == [SecretStr]:
            return "URL (secret)"
        return " or ".join(_describe(arg) for arg in rest)
    if annotation is SecretStr:
        return "secret"
    return {bool: "bool", int: "int", float: "float", str: "string"}.get(
        annotation, str(annotation)
    )


def _bounds(metadata: list[Any]) -> str:
    marks = []
    for item in metadata:
        for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            value = getattr(item, attr, None)
            if isinstance(item, (at.Gt, at.Ge, at.Lt, at.Le, at.Interval)) and value is not None:
                marks.append(f"{sign} {value:,}" if isinstance(value, int) else f"{sign} {value}")
        if isinstance(item, at.MinLen) and item.min_length > 0:
            marks.append(f"length ≥ {item.min_length}")
        if isinstance(item, at.MaxLen):
            marks.append(f"length ≤ {item.max_length}")
    return f", {', '.join(marks)}" if marks else ""


def _default(info: FieldInfo) -> str:
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if value == {}:
        return "empty"
    return code(_toml(value))


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)
