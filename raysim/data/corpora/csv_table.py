"""Any corpus listed in a CSV (or TSV) table: one row per file, columns mapped to the manifest's.

The table needs a column of file paths; a mapping such as ``path=file,label=emotion``
names the table's column for each manifest column it does not already hold under that
name. Relative paths are resolved against `root` when given, else the table's folder.
Columns that are not manifest columns are kept as extra columns (as strings). Without
an ``utt_id`` column, the path relative to that folder without its suffix is the id.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from raysim.data.corpora._common import finish_manifest, normalise_gender
from raysim.data.manifest import REQUIRED_COLUMNS, ManifestError, OnError

CORPUS = "csv"


def parse_column_map(text: str | None) -> dict[str, str]:
    """``"path=file,label=emotion"`` → ``{"path": "file", "label": "emotion"}``.

    Keys are the manifest's names, values the table's; raises ManifestError on a bad item.
    """
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ManifestError(f"--columns: expected manifest_column=table_column, got {item!r}")
        if key in out:
            raise ManifestError(f"--columns: {key!r} is mapped twice")
        out[key] = value
    return out


def read_table(path: Path) -> pd.DataFrame:
    """The table as strings (empty cells null); ``.tsv`` files are tab-separated."""
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path}: not a readable CSV table ({err})") from err


def rename_columns(table: pd.DataFrame, columns: Mapping[str, str], source: Path) -> pd.DataFrame:
    """`table` with its columns renamed to the manifest's names; errors name the column."""
    renames: dict[str, str] = {}
    for manifest_col, table_col in columns.items():
        if table_col not in table.columns:
            raise ManifestError(
                f"{source}: no column {table_col!r} (mapped to {manifest_col}); "
                f"columns: {', '.join(map(str, table.columns))}"
            )
        if manifest_col in table.columns and manifest_col != table_col:
            raise ManifestError(
                f"{source}: --columns {manifest_col}={table_col}, but the table has a "
                f"{manifest_col!r} column too; map or rename one of them"
            )
        renames[table_col] = manifest_col
    out = table.rename(columns=renames)
    if "path" not in out.columns:
        raise ManifestError(
            f"{source}: no 'path' column (name the column of file paths with "
            f"--columns path=NAME); columns: {', '.join(map(str, table.columns))}"
        )
    return out


def _record(row: dict, base: Path, source: Path, line: int) -> dict:
    """One manifest row from a table row (nulls as None): absolute path, default utt_id,
    normalised gender, the noise class as label when there is no label."""
    if row["path"] is None:
        raise ManifestError(f"{source}: empty path on line {line}")
    path = Path(os.path.expanduser(row["path"]))
    absolute = Path(os.path.normpath(path if path.is_absolute() else base / path))
    record = {**row, "path": str(absolute)}
    if record.get("utt_id") is None:
        try:
            record["utt_id"] = absolute.relative_to(base).with_suffix("").as_posix()
        except ValueError:  # outside the base folder
            record["utt_id"] = absolute.with_suffix("").as_posix().lstrip("/")
    if "gender" in record:
        try:
            record["gender"] = normalise_gender(record["gender"])
        except ValueError as err:
            raise ManifestError(f"{source}: {err} on line {line}") from None
    if record.get("label") is None and record.get("noise_class") is not None:
        record["label"] = record["noise_class"]
    return record


def build_csv_manifest(
    table: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    root: str | Path | None = None,
    probe: bool = True,
    on_error: OnError = "raise",
) -> pd.DataFrame:
    """Manifest of the files a CSV/TSV table lists, its columns renamed by `columns`.

    Missing columns (a mapped one, or ``path``) raise :class:`ManifestError` naming the
    column and the file; unreadable files raise or are skipped (`on_error`) when `probe`.
    """
    source = Path(table).expanduser().resolve()
    if not source.is_file():
        raise FileNotFoundError(f"{CORPUS}: table not found: {source}")
    base = Path(root).expanduser().resolve() if root is not None else source.parent
    renamed = rename_columns(read_table(source), columns or {}, source)
    rows = renamed.astype(object).where(renamed.notna(), None).to_dict("records")
    # line numbers as a spreadsheet shows them: the header is line 1
    records = [_record(row, base, source, i + 2) for i, row in enumerate(rows)]
    extra = [c for c in renamed.columns if c not in REQUIRED_COLUMNS]
    return finish_manifest(
        records,
        corpus=CORPUS,
        root=base,
        expected=f"rows in {source}",
        probe=probe,
        on_error=on_error,
        extra_columns=extra,
    )
