"""The standard manifest table: one row per audio file, shared by every corpus builder.

Required columns (any extra, corpus-specific columns are kept as they are):

=============  =====================================================================
``utt_id``     str, unique within the manifest
``path``       str, absolute path of the audio file
``duration``   float seconds (NaN when the header was not probed)
``sample_rate`` int Hz (nullable ``Int64``: missing when the header was not probed)
``speaker``    str or null
``gender``     ``'M'``, ``'F'`` or null
``label``      str or null (emotion code, digit, noise class, ...)
``split``      str or null (``train``/``dev``/``test`` or a fold id such as ``"3"``)
=============  =====================================================================
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from raysim.audio.io import AudioError, audio_info

REQUIRED_COLUMNS: tuple[str, ...] = (
    "utt_id",
    "path",
    "duration",
    "sample_rate",
    "speaker",
    "gender",
    "label",
    "split",
)
_STRING_COLUMNS = ("utt_id", "path", "speaker", "gender", "label", "split")
GENDERS = frozenset({"M", "F"})
SKIPPED_COLUMNS: tuple[str, ...] = ("utt_id", "path", "reason")

OnError = Literal["raise", "skip"]


class ManifestError(ValueError):
    """A manifest that does not follow the standard schema."""


class ManifestCheck(NamedTuple):
    """Result of :func:`validate_manifest`: the usable rows and the rows skipped, with reasons."""

    manifest: pd.DataFrame
    skipped: pd.DataFrame


def make_manifest(records: list[dict], extra_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Build a manifest from row dicts; missing required keys become null.

    Keys beyond the required columns become extra columns; `extra_columns` fixes their
    order and keeps them even when `records` is empty.
    """
    columns = list(REQUIRED_COLUMNS)
    for key in itertools.chain(extra_columns, *records):
        if key not in columns:
            columns.append(key)
    return _normalise(pd.DataFrame.from_records(records, columns=columns))


def validate_manifest(
    df: pd.DataFrame, *, check_audio: bool = False, on_error: OnError = "raise"
) -> ManifestCheck:
    """Check `df` against the schema and return a normalised copy.

    Schema problems (missing column, duplicate or empty ``utt_id``, relative path, bad
    gender or sample rate) always raise :class:`ManifestError` naming the column and row.
    With ``check_audio=True`` every file's header is read (no decoding): files that are
    missing, unreadable or hold no samples raise (``on_error="raise"``) or are moved to the
    ``skipped`` table with a reason (``on_error="skip"``); ``duration``/``sample_rate`` are
    filled from the header where they were missing.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ManifestError(f"manifest is missing required column(s): {', '.join(missing)}")
    out = _normalise(df)
    _check_schema(out)
    skipped = pd.DataFrame(columns=list(SKIPPED_COLUMNS))
    if check_audio:
        out, skipped = _check_files(out, on_error)
    return ManifestCheck(out, skipped)


def write_manifest(df: pd.DataFrame, path: str | Path) -> Path:
    """Validate `df` and write it as Parquet (atomically: readers never see a partial file)."""
    out = validate_manifest(df).manifest
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    out.to_parquet(tmp, engine="pyarrow", index=False)
    tmp.replace(path)
    return path


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a Parquet manifest and validate its schema (files are not opened)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    try:
        df = pd.read_parquet(path, engine="pyarrow")
    except Exception as err:  # pyarrow raises several types for broken files
        raise ManifestError(f"{path}: not a readable Parquet manifest ({err})") from err
    try:
        return validate_manifest(df).manifest
    except ManifestError as err:
        raise ManifestError(f"{path}: {err}") from err


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Required columns first, fixed dtypes; strings as Python str/None so Parquet keeps them."""
    out = df.reset_index(drop=True).copy()
    for col in _STRING_COLUMNS:
        values = out[col].astype(object)
        out[col] = (
            values.where(values.notna(), None)
            .map(lambda v: v if v is None else str(v))
            .astype(object)
        )
    out["duration"] = pd.to_numeric(out["duration"], errors="coerce").astype("float64")
    sample_rate = pd.to_numeric(out["sample_rate"], errors="coerce").astype("float64")
    fractional = sample_rate.notna() & (sample_rate % 1 != 0)
    if fractional.any():
        idx = out.index[fractional][0]
        raise ManifestError(
            f"sample_rate must be an integer, got {sample_rate[idx]!r} in {_row_name(out, idx)}"
        )
    out["sample_rate"] = sample_rate.astype("Int64")
    extra = [c for c in out.columns if c not in REQUIRED_COLUMNS]
    return out[list(REQUIRED_COLUMNS) + extra]


def _row_name(df: pd.DataFrame, idx) -> str:
    return f"row {idx} (utt_id={df.at[idx, 'utt_id']!r})"


def _check_schema(df: pd.DataFrame) -> None:
    """Raise ManifestError naming the first bad value of each rule."""
    empty_id = df["utt_id"].isna() | (df["utt_id"] == "")
    if empty_id.any():
        raise ManifestError(f"utt_id is empty in row {df.index[empty_id][0]}")
    dup = df["utt_id"].duplicated(keep=False)
    if dup.any():
        names = sorted(set(df.loc[dup, "utt_id"]))[:5]
        raise ManifestError(f"utt_id must be unique; duplicated: {', '.join(names)}")
    bad_path = df["path"].map(lambda p: p is None or not os.path.isabs(p))
    if bad_path.any():
        idx = df.index[bad_path][0]
        raise ManifestError(
            f"path must be absolute, got {df.at[idx, 'path']!r} in {_row_name(df, idx)}"
        )
    bad_gender = df["gender"].notna() & ~df["gender"].isin(GENDERS)
    if bad_gender.any():
        idx = df.index[bad_gender][0]
        raise ManifestError(
            f"gender must be 'M', 'F' or null, got {df.at[idx, 'gender']!r} in {_row_name(df, idx)}"
        )
    bad_sr = df["sample_rate"].notna() & (df["sample_rate"].fillna(1) <= 0)
    if bad_sr.any():
        idx = df.index[bad_sr][0]
        raise ManifestError(
            f"sample_rate must be positive, got {df.at[idx, 'sample_rate']} in {_row_name(df, idx)}"
        )
    bad_dur = df["duration"] < 0
    if bad_dur.any():
        idx = df.index[bad_dur][0]
        raise ManifestError(
            f"duration must be >= 0, got {df.at[idx, 'duration']} in {_row_name(df, idx)}"
        )


def _header(path: str) -> tuple[float, int]:
    """(duration, sample rate) from the header; raises ValueError with a readable reason."""
    if not os.path.isfile(path):
        raise ValueError("file not found")
    if os.path.getsize(path) == 0:
        raise ValueError("file is empty (0 bytes)")
    try:
        duration, sr = audio_info(path)
    except AudioError as err:
        raise ValueError(err.reason) from err
    if duration <= 0:
        raise ValueError("file holds no samples (zero length)")
    return duration, sr


def _check_files(df: pd.DataFrame, on_error: OnError) -> tuple[pd.DataFrame, pd.DataFrame]:
    durations = df["duration"].to_numpy(dtype="float64", copy=True)
    rates = df["sample_rate"].astype("float64").to_numpy(copy=True)
    keep = np.ones(len(df), dtype=bool)
    skipped: list[dict] = []
    for i, (utt_id, path) in enumerate(zip(df["utt_id"], df["path"], strict=True)):
        try:
            durations[i], rates[i] = _header(path)
        except ValueError as err:
            if on_error == "raise":
                raise ManifestError(f"{path}: {err} (utt_id={utt_id!r})") from err
            keep[i] = False
            skipped.append({"utt_id": utt_id, "path": path, "reason": str(err)})
    out = df.copy()
    out["duration"] = durations
    out["sample_rate"] = pd.array(rates, dtype="Float64").astype("Int64")
    return (
        out[keep].reset_index(drop=True),
        pd.DataFrame(skipped, columns=list(SKIPPED_COLUMNS)),
    )
