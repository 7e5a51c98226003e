"""Name → implementation registries (tasks, data sources).

Each entry is a light pydantic params model, validated on the driver, and an
implementation imported only where it runs (both as 'module:attr' paths), so
validating a config never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel, ValidationError


def load_attr(path: str) -> Any:
    """Import 'module:attr'."""
    module, attr = path.split(":")
    return getattr(importlib.import_module(module), attr)


class Registry:
    """Named entries of one kind; `section` is their config section (errors name it)."""

    def __init__(self, section: str, key: str, entries: dict[str, tuple[str, str]]):
        self.section = section
        self.key = key
        self._entries = dict(entries)

    def register(self, name: str, params_path: str, impl_path: str) -> None:
        """Add (or replace) an entry: 'module:attr' paths of its params model and implementation."""
        self._entries[name] = (params_path, impl_path)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def params_model(self, name: str) -> type[BaseModel]:
        """The params model of `name` (ValueError naming the key and the known names)."""
        if name not in self._entries:
            raise ValueError(
                f"unknown {self.section}.{self.key} {name!r}; known: {', '.join(self.names())}"
            )
        return load_attr(self._entries[name][0])

    def validate(self, name: str, params: dict[str, Any]) -> BaseModel:
        """Validate params, re-raising errors with `<section>.<key>` paths."""
        model = self.params_model(name)
        try:
            return model.model_validate(params)
        except ValidationError as err:
            msgs = [
                f"{self.section}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                f" (got {e.get('input')!r})"
                for e in err.errors()
            ]
            raise ValueError("; ".join(msgs)) from None

    def build(self, name: str, params: dict[str, Any], *args: Any) -> Any:
        """Call the implementation with the validated params and `args`."""
        return load_attr(self._entries[name][1])(self.validate(name, params), *args)
