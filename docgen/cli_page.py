"""The command-line reference, from the click commands of ``llmix_workers.cli``."""

from __future__ import annotations

import inspect

import click

from docgen.markdown import BANNER, code, table

PROG = "llmix-workers"


def render_cli() -> str:
    from llmix_workers.cli import main

    parts = [
        "# Command line",
        "",
        BANNER,
        "",
        f"Every command of `{PROG}`, as `{PROG} COMMAND --help` prints it. Every command answers "
        "`-h`/`--help` and `--version`. A mistake, or a Redis or broker that does not answer, "
        "prints one line naming what went wrong (passwords masked) and exits 2. The guides show "
        "the commands in use: [sending jobs and batches](../guides/batches.md), "
        "[clears](../guides/consistency.md), [running a fleet](../guides/running-a-fleet.md).",
        "",
    ]
    # Contexts made as click makes them (context_settings applied): click caches each command's
    # help option on first use, so a bare Context here would leave `-h` broken for later calls.
    root = main.make_context(PROG, [], resilient_parsing=True)
    parts += _command(main, root, PROG, level=2)
    return "\n".join(parts).rstrip() + "\n"


def _command(command: click.Command, ctx: click.Context, path: str, level: int) -> list[str]:
    lines = [f"{'#' * level} `{path}`", ""]
    lines += [_help(command), ""]
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines += ["```text", f"{path} {usage}".rstrip(), "```", ""]
    rows = [row for param in command.params if (row := _param_row(param, ctx)) is not None]
    if rows:
        lines += [table(["option or argument", "type", "default", "meaning"], rows), ""]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
            lines += _command(sub, sub_ctx, f"{path} {name}", level + 1)
    return lines


def _help(command: click.Command) -> str:
    text = inspect.cleandoc(command.help or command.short_help or "")
    return text.replace("\b\n", "")


def _param_row(param: click.Parameter, ctx: click.Context) -> list[str] | None:
    if isinstance(param, click.Option):
        if param.hidden or param.name in {"help", "version"}:
            return None
        names = ", ".join(code(name) for name in param.opts)
        if param.secondary_opts:
            names += " / " + ", ".join(code(name) for name in param.secondary_opts)
        meaning = param.help or ""
    else:
        names = code(param.human_readable_name)
        meaning = "argument" + ("" if param.required else ", optional")
    return [names, _type(param), _default(param, ctx), meaning]


def _type(param: click.Parameter) -> str:
    kind = param.type
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    if isinstance(kind, click.Choice):
        return "one of " + ", ".join(code(choice) for choice in kind.choices)
    if isinstance(kind, (click.IntRange, click.FloatRange)):
        return f"{kind.name} {_bounds(kind)}"
    return kind.name


def _bounds(kind: click.IntRange | click.FloatRange) -> str:
    low = "" if kind.min is None else f"{kind.min} {'<' if kind.min_open else '≤'} "
    high = "" if kind.max is None else f" {'<' if kind.max_open else '≤'} {kind.max}"
    return f"{low}x{high}"


def _default(param: click.Parameter, ctx: click.Context) -> str:
    if isinstance(param, click.Option) and param.is_flag and not param.secondary_opts:
        return ""
    value = param.get_default(ctx, call=False)
    if value is None or callable(value) or getattr(value, "name", None) == "UNSET":
        return ""
    if isinstance(param, click.Option) and param.secondary_opts:
        return code(param.opts[0] if value else param.secondary_opts[0])
    if isinstance(value, (list, tuple)):
        return ", ".join(code(item) for item in value) if value else ""
    return code(value)
