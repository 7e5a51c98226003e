"""Reading a Parquet manifest a user names, with one-line errors for a missing file and
for a CSV (or other text) file given instead, which pyarrow would report as ``Parquet
magic bytes not found in footer``.

Outside the subpackages so that both ``raysim.data`` (manifests) and ``raysim.features``
(extraction's input) can use it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PARQUET_MAGIC = b"PAR1"
_TABLE_SUFFIXES = (".csv", ".tsv", ".txt")


class NotParquetError(ValueError):
    """A file given as a Parquet manifest that is not one (a CSV, say); the message names
    the file and, for a text table, the command that converts it."""


def not_parquet_reason(path: Path) -> str | None:
    """Why the file at `path` is not a Parquet file (one line naming it), or None."""
    with path.open("rb") as f:
        head = f.read(4096)
    if head.startswith(PARQUET_MAGIC):
        return None
    if path.suffix.lower() in _TABLE_SUFFIXES or _is_text(head):
        return (
            f"{path}: a CSV/text table, not a Parquet manifest; convert it with "
            f"`python features/manifest.py --from-csv {path} "
            f"--out {path.with_suffix('.parquet')}` (add --columns path=COL,... to map "
            "its column names)"
        )
    return f"{path}: not a Parquet manifest (no Parquet header)"


def read_parquet_manifest(path: str | Path) -> pd.DataFrame:
    """The table in the Parquet file at `path`, unvalidated.

    Raises FileNotFoundError naming a missing file and :class:`NotParquetError` for a
    file that is not Parquet or cannot be read as Parquet.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    reason = not_parquet_reason(path)
    if reason is not None:
        raise NotParquetError(reason)
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except Exception as err:  # pyarrow raises several types for broken files
        raise NotParquetError(f"{path}: not a readable Parquet manifest ({err})") from err


def _is_text(head: bytes) -> bool:
    """Whether the first bytes of a file look like text (UTF-8, no NUL byte)."""
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:  # a multi-byte character cut at the end is still text
        return err.start >= len(head) - 3
    return True
