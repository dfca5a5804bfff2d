"""Which requests orjson may write as they are: the per-value walk behind every first-sight key.

:func:`plain_body` visits each field and list item once (never each character) and vouches for
the common request: strings, booleans, ints, floats with a fraction in ``1e-5 <= |f| < 1e16``,
lists of strings or of objects whose values are strings (messages). orjson writes those exactly
as the contract's canonical JSON does. A whole-number float below 2**53 (``"topP": 1.0``,
``-0.0``) becomes that int and a top-level null or empty ``baseUrl`` is left out, in a copy.
Anything else returns ``None`` and is rebuilt by the slower exact path.

This module is compiled with mypyc when the package is installed on a machine with a C
compiler (``setup.py``; about three times faster), and runs as plain Python otherwise: same
source, same answers. Keep it self-contained and fully typed.
"""

from __future__ import annotations

from typing import Any, Final

_MAX_SAFE_FLOAT: Final = 9007199254740992.0  # 2**53


def plain_body(params: dict[str, Any]) -> dict[str, Any] | None:
    """``params`` in a form orjson writes canonically, often ``params`` itself; None: rebuild.

    ``params`` holds key fields only. A subclass of ``str`` or ``int`` passes here and is then
    refused by orjson under ``OPT_PASSTHROUGH_SUBCLASS``, as are ints past 2**53 under
    ``OPT_STRICT_INTEGER`` and lone surrogates: the caller falls back on orjson's error.
    """
    body: dict[str, Any] | None = None
    for name, value in params.items():
        if isinstance(value, str):
            if value or name != "baseUrl":
                continue
            body = _without(params if body is None else body, name)
        elif isinstance(value, int):  # bool included
            continue
        elif isinstance(value, float):
            number: float = value
            if number % 1.0 and 1e-5 <= abs(number) < 1e16:
                continue  # NaN and ±Inf fail the range check here and the next one
            if number % 1.0 or not -_MAX_SAFE_FLOAT < number < _MAX_SAFE_FLOAT:
                return None
            body = dict(params) if body is None else body
            body[name] = int(number)
        elif isinstance(value, list):
            if not plain_list(value):
                return None
        elif value is None:
            body = _without(params if body is None else body, name)
        else:
            return None
    return params if body is None else body


def plain_list(items: list[Any]) -> bool:
    """True for a list of strings and of objects whose values are all strings (messages)."""
    for item in items:
        if isinstance(item, str):
            continue
        if type(item) is not dict:
            return False
        for value in item.values():
            if not isinstance(value, str):
                return False
    return True


def _without(params: dict[str, Any], name: str) -> dict[str, Any]:
    """A copy of ``params`` without ``name``."""
    return {key: value for key, value in params.items() if key != name}
