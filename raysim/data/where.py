"""Row filters for manifests: ``label in [W,F,N,T]``, ``label=N``, ``split!=test``.

Forms: ``COLUMN=VALUE`` (or ``==``), ``COLUMN!=VALUE``, ``COLUMN in [A,B,...]`` and
``COLUMN not in [A,B,...]`` (brackets and quotes around values optional). Values are
compared as strings; a null cell equals no value, so ``=``/``in`` drop it and
``!=``/``not in`` keep it. Several filters keep the rows that pass all of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from raysim.data.manifest import ManifestError

_IN_RE = re.compile(r"^\s*(?P<col>[^\s=!]+)\s+(?P<op>not\s+in|in)\s+(?P<values>.+?)\s*$")
_EQ_RE = re.compile(r"^\s*(?P<col>[^\s=!]+)\s*(?P<op>==|=|!=)\s*(?P<values>.*?)\s*$")


class WhereError(ManifestError):
    """A filter that cannot be parsed or names a column the table does not have."""


@dataclass(frozen=True)
class RowFilter:
    """Keep the rows whose `column` is (``keep=True``) or is not one of `values`."""

    text: str
    column: str
    values: tuple[str, ...]
    keep: bool

    def mask(self, df: pd.DataFrame) -> pd.Series:
        """Boolean mask of the rows of `df` that pass."""
        if self.column not in df.columns:
            raise WhereError(
                f"--where {self.text!r}: no column {self.column!r}; "
                f"columns: {', '.join(map(str, df.columns))}"
            )
        cells = df[self.column]
        hit = cells.notna() & cells.astype(str).isin(self.values)
        return hit if self.keep else ~hit


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_where(text: str) -> RowFilter:
    """Parse one filter (see the module docstring); raises :class:`WhereError`."""
    m = _IN_RE.match(text)
    op: Literal["in", "eq"] = "in"
    if m is None:
        m, op = _EQ_RE.match(text), "eq"
    if m is None:
        raise WhereError(
            f"--where {text!r}: expected COLUMN=VALUE, COLUMN!=VALUE or COLUMN in [A,B,...]"
        )
    if op == "in":
        raw = m["values"].strip()
        if raw.startswith("[") != raw.endswith("]"):
            raise WhereError(f"--where {text!r}: unbalanced brackets")
        values = tuple(_unquote(v) for v in raw.strip("[]").split(",") if v.strip())
        keep = m["op"] == "in"
    else:
        values, keep = (_unquote(m["values"]),), m["op"] != "!="
    if not values or values == ("",):
        raise WhereError(f"--where {text!r}: no value to compare with")
    return RowFilter(text, m["col"], values, keep)


def apply_where(df: pd.DataFrame, filters: Iterable[str | RowFilter]) -> tuple[pd.DataFrame, int]:
    """(the rows of `df` that pass every filter, re-indexed; how many were dropped)."""
    keep = pd.Series(True, index=df.index)
    for f in filters:
        keep &= (parse_where(f) if isinstance(f, str) else f).mask(df)
    return df[keep].reset_index(drop=True), int((~keep).sum())
