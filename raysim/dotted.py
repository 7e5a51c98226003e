"""Nested dicts addressed by dotted keys: ``{"a": {"b": 1}}`` ↔ ``{"a.b": 1}``.

Config overrides (``local.optimizer.lr=0.1``), search-space keys and the sweep's
``config/<key>`` result columns all name a nested config value by its dotted path;
these are the only functions that walk one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MISSING = object()


class NotASectionError(ValueError):
    """A dotted key runs through a value that is not a mapping (``a.b`` where ``a: 3``)."""


def _parts(dotted: str) -> list[str]:
    return dotted.split(".")


def get_dotted(data: Mapping[str, Any], dotted: str, default: Any = _MISSING) -> Any:
    """The value at `dotted` (KeyError naming the key, unless a `default` is given)."""
    node: Any = data
    for key in _parts(dotted):
        if not isinstance(node, Mapping) or key not in node:
            if default is _MISSING:
                raise KeyError(dotted)
            return default
        node = node[key]
    return node


def has_dotted(data: Mapping[str, Any], dotted: str) -> bool:
    """Whether `dotted` names a value in `data` (every section on the way a mapping)."""
    try:
        get_dotted(data, dotted)
    except KeyError:
        return False
    return True


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c = value` in a nested dict, creating sections as needed.

    Raises NotASectionError when a key on the way holds something other than a dict.
    """
    keys = _parts(dotted)
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise NotASectionError(f"{dotted}: '{k}' is not a section")
    node[keys[-1]] = value


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{'local': {'optimizer': {'lr': 0.1}}}`` → ``{'local.optimizer.lr': 0.1}``.

    Leaves are the values that are not mappings, and empty mappings (kept as they
    are, so that :func:`unflatten` gives the section back).
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{'local.optimizer.lr': 0.1}`` → ``{'local': {'optimizer': {'lr': 0.1}}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        set_dotted(out, key, value)
    return out


#: keys that name the implementation a section configures (`raysim.registry`)
IMPLEMENTATION_KEYS = ("name", "source")


def _names_another(base: Mapping[str, Any], extra: Mapping[str, Any]) -> bool:
    return any(k in extra and extra[k] != base.get(k) for k in IMPLEMENTATION_KEYS)


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge `extra` into a copy of `base`: dicts merged key by key, anything else
    replaced; sections that `extra` does not touch are shared, not copied. A section
    of `extra` that names another implementation (its ``name`` or ``source`` differs)
    replaces the old section whole: the old one's keys mean nothing to the new."""
    out = dict(base)
    for k, v in extra.items():
        old = out.get(k)
        mergeable = isinstance(v, dict) and isinstance(old, dict) and not _names_another(old, v)
        out[k] = merge(old, v) if mergeable else v
    return out
