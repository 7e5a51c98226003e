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

Optional standard column: ``channels`` (nullable ``Int64``), the file's channel count,
added by the header probe (``check_audio=True``). With ``sample_rate`` it records what the
loader will change: other rates are resampled, several channels averaged to mono.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from raysim.audio.conversion import FormatCounts
from raysim.audio.io import AudioError, AudioHeader, read_header
from raysim.parquet_input import NotParquetError, read_parquet_manifest

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
CHANNELS_COLUMN = "channels"
SKIPPED_COLUMNS: tuple[str, ...] = ("utt_id", "path", "reason")

OnError = Literal["raise", "skip"]


class ManifestError(ValueError):
    """A manifest that does not follow the standard schema."""


class AudioFileError(ManifestError):
    """A manifest row whose audio file is missing, empty, unreadable or truncated."""

    def __init__(self, path: str, reason: str, utt_id: str):
        self.path, self.reason, self.utt_id = path, reason, utt_id
        super().__init__(f"{path}: {reason} (utt_id={utt_id!r})")


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
    missing, empty, unreadable, truncated (a WAV shorter than its header says) or hold no
    samples raise :class:`AudioFileError` (``on_error="raise"``) or are moved to the
    ``skipped`` table with a reason (``on_error="skip"``); ``duration``, ``sample_rate``
    and ``channels`` are filled from the header.
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


def skipped_path(manifest_path: str | Path) -> Path:
    """Where the skipped-files table of the manifest at `manifest_path` goes:
    ``m.parquet`` → ``m.skipped.csv`` beside it."""
    return Path(manifest_path).with_suffix(".skipped.csv")


def write_skipped(skipped: pd.DataFrame, manifest_path: str | Path) -> Path:
    """Write the skipped files (utt_id, path, reason) as CSV beside the manifest."""
    path = skipped_path(manifest_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    skipped.reindex(columns=list(SKIPPED_COLUMNS)).to_csv(path, index=False)
    return path


def audio_formats(df: pd.DataFrame) -> FormatCounts | None:
    """(sample rate, channels) counts of a probed manifest; None if it was not probed."""
    if (
        CHANNELS_COLUMN not in df
        or df["sample_rate"].isna().any()
        or df[CHANNELS_COLUMN].isna().any()
    ):
        return None
    return FormatCounts.of(zip(df["sample_rate"], df[CHANNELS_COLUMN], strict=True))


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a Parquet manifest and validate its schema (files are not opened)."""
    path = Path(path)
    try:
        df = read_parquet_manifest(path)
    except NotParquetError as err:
        raise ManifestError(str(err)) from None
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
    for col in ("sample_rate", CHANNELS_COLUMN):
        if col in out:
            out[col] = _int_column(out, col)
    extra = [c for c in out.columns if c not in REQUIRED_COLUMNS]
    return out[list(REQUIRED_COLUMNS) + extra]


def _int_column(df: pd.DataFrame, col: str) -> pd.Series:
    """`col` as nullable Int64; ManifestError naming the row of a fractional value."""
    values = pd.to_numeric(df[col], errors="coerce").astype("float64")
    fractional = values.notna() & (values % 1 != 0)
    if fractional.any():
        idx = df.index[fractional][0]
        raise ManifestError(
            f"{col} must be an integer, got {values[idx]!r} in {_row_name(df, idx)}"
        )
    return values.astype("Int64")


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
    for col in ("sample_rate", CHANNELS_COLUMN):
        if col not in df:
            continue
        bad = df[col].notna() & (df[col].fillna(1) <= 0)
        if bad.any():
            idx = df.index[bad][0]
            raise ManifestError(
                f"{col} must be positive, got {df.at[idx, col]} in {_row_name(df, idx)}"
            )
    bad_dur = df["duration"] < 0
    if bad_dur.any():
        idx = df.index[bad_dur][0]
        raise ManifestError(
            f"duration must be >= 0, got {df.at[idx, 'duration']} in {_row_name(df, idx)}"
        )


def _check_files(df: pd.DataFrame, on_error: OnError) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Probe every file's header; fill duration, sample_rate and channels from it."""
    headers: list[AudioHeader | None] = []
    skipped: list[dict] = []
    for utt_id, path in zip(df["utt_id"], df["path"], strict=True):
        try:
            headers.append(read_header(path))
        except AudioError as err:
            if on_error == "raise":
                raise AudioFileError(path, err.reason, utt_id) from err
            headers.append(None)
            skipped.append({"utt_id": utt_id, "path": path, "reason": err.reason})
    keep = np.array([h is not None for h in headers], dtype=bool)
    out = df.copy()
    out["duration"] = [h.duration if h is not None else np.nan for h in headers]
    out["sample_rate"] = pd.array(
        [h.sample_rate if h is not None else None for h in headers], "Int64"
    )
    out[CHANNELS_COLUMN] = pd.array(
        [h.channels if h is not None else None for h in headers], "Int64"
    )
    out = _normalise(out)  # a new channels column goes after the required ones
    return (
        out[keep].reset_index(drop=True),
        pd.DataFrame(skipped, columns=list(SKIPPED_COLUMNS)),
    )


#: distinct values of a column printed in full by :func:`contents_summary`
SHOWN_VALUES = 8


def contents_summary(df: pd.DataFrame) -> str:
    """One line on what the manifest holds: its labels (with counts), speakers and noise
    classes, so a pattern that captured the wrong part of the names shows at once (a
    "label" with as many values as files)."""
    parts = []
    for column, name in (
        ("label", "labels"),
        ("speaker", "speakers"),
        ("noise_class", "noise classes"),
    ):
        if column not in df or df[column].isna().all():
            continue
        counts = df[column].value_counts()
        shown = ", ".join(f"{v} {n}" for v, n in counts.head(SHOWN_VALUES).items())
        more = f", ... {len(counts) - SHOWN_VALUES} more" if len(counts) > SHOWN_VALUES else ""
        part = f"{len(counts)} {name}" + (f" ({shown}{more})" if column != "speaker" else "")
        if column == "label" and _label_looks_wrong(df, len(counts)):
            part += " — check the pattern's {label} field"
        parts.append(part)
    return "; ".join(parts) if parts else "no label, speaker or noise_class values"


def _label_looks_wrong(df: pd.DataFrame, n_labels: int) -> bool:
    """Labels nearly as many as the files, or mostly holding their row's speaker: the
    signs of a pattern whose {label} took more of the name than the class."""
    if n_labels > max(SHOWN_VALUES, len(df) // 4):
        return True
    if "speaker" not in df or df["speaker"].isna().any():
        return False
    holds = [str(spk) in str(lab) for spk, lab in zip(df["speaker"], df["label"], strict=True)]
    return sum(holds) > len(df) / 2
