"""Pydantic validation errors as messages naming the key: ``dotted.key: message (got value)``.

Every validated file (the simulation config, a sweep file, a registered
implementation's params) reports its errors this way, so a typo reads the same
wherever it is: ``local.optimzer: unknown key; did you mean 'optimizer'?``.
"""

from __future__ import annotations

import difflib
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

#: error type of an unknown key whose message already carries its hint (a registered
#: section's params validate themselves and hint inside, see :mod:`raysim.registry`)
UNKNOWN_KEY = "unknown_key"


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation allows (``A``, ``A | None``, ``bool | A``)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _models(arg)]
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return [annotation] if is_model else []


def known_fields(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the model at `loc` below `model` (empty if `loc` leads elsewhere).

    `loc` is a pydantic error location without its last part; where a field is a
    union of models, pydantic puts the member's class name in the location, and
    that picks the member.
    """
    current: type[BaseModel] | None = model
    parts = list(loc)
    while parts and current is not None:
        field = current.model_fields.get(str(parts.pop(0)))
        if field is None:
            return []
        members = _models(field.annotation)
        named = [m for m in members if parts and m.__name__ == parts[0]]
        if named:
            parts.pop(0)
        current = named[0] if named else (members[0] if len(members) == 1 else None)
    return [] if current is None else list(current.model_fields)


def unknown_key_message(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """'unknown key', with the closest field of its section as a hint when there is one."""
    close = difflib.get_close_matches(str(loc[-1]), known_fields(model, loc[:-1]), n=1)
    return "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")


def error_lines(err: ValidationError, model: type[BaseModel]) -> list[str]:
    """One ``dotted.key: message`` line per error of validating `model` (the root model,
    for the hints); the offending value is shown unless it is a whole section."""
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        if e["type"] == "extra_forbidden":
            lines.append(f"{key}: {unknown_key_message(model, e['loc'])}")
        elif e["type"] == UNKNOWN_KEY:
            lines.append(f"{key}: {e['msg']}")
        else:
            value = e.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            lines.append(f"{key}: {e['msg']}{shown}")
    return lines


def format_validation_error(err: ValidationError, model: type[BaseModel], header: str) -> str:
    """`header` (e.g. 'invalid config') and the indented lines of :func:`error_lines`."""
    return f"{header}:\n  " + "\n  ".join(error_lines(err, model))
