"""Worker side of extraction: features of one manifest shard, written as one Parquet file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from raysim.audio.conversion import FormatCounts
from raysim.audio.io import AudioError, read_audio
from raysim.features.base import Extractor, FeatureConfig, build_extractor
from raysim.features.layout import FEATURES_COLUMN, with_metadata, write_atomic


@lru_cache(maxsize=1)
def cached_extractor(config: FeatureConfig) -> Extractor:
    """One extractor per process (Ray reuses worker processes across shard tasks)."""
    return build_extractor(config)


def _features(extractor: Extractor, path: str, formats: FormatCounts) -> np.ndarray:
    """The file's feature vector; counts the file's (rate, channels) in `formats`."""
    audio = read_audio(path, extractor.sample_rate)
    formats[audio.orig_sample_rate, audio.orig_channels] += 1
    vec = np.asarray(extractor.process(audio.wave, audio.sample_rate), dtype=np.float32)
    vec = vec.reshape(-1)
    if vec.shape != (extractor.dim,):
        raise ValueError(f"extractor returned {vec.shape[0]} values, expected {extractor.dim}")
    n_bad = int((~np.isfinite(vec)).sum())
    if n_bad:
        raise ValueError(f"{n_bad} of {vec.size} feature values are NaN or inf")
    return vec


def extract_shard(
    config: FeatureConfig,
    rows: pd.DataFrame,
    paths: list[str],
    schema: pa.Schema,
    out_path: str,
    meta: dict[str, Any],
    on_error: str,
) -> dict[str, Any]:
    """Extract every row of `rows` (audio at `paths`) and write the shard to `out_path`.

    Files that fail are listed in the shard metadata (``on_error="record"``) or raise a
    ValueError naming the file (``on_error="raise"``). The metadata also counts the
    decoded files' own (sample rate, channels), and the rate they were loaded at, so the
    run can say what was resampled and down-mixed. Returns the shard's counts.
    """
    extractor = cached_extractor(config)
    vectors, ok, failures = [], [], []
    formats = FormatCounts()
    for i, path in enumerate(paths):
        try:
            vectors.append(_features(extractor, path, formats))
            ok.append(i)
        except Exception as err:  # any failure of one file is recorded, the rest go on
            reason = err.reason if isinstance(err, AudioError) else f"{type(err).__name__}: {err}"
            utt_id = str(rows["utt_id"].iat[i])
            if on_error == "raise":
                raise ValueError(f"utterance {utt_id} ({path}): {reason}") from err
            failures.append({"utt_id": utt_id, "path": path, "reason": reason})
    flat = np.concatenate(vectors) if vectors else np.empty(0, dtype=np.float32)
    column = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), extractor.dim)
    table = pa.Table.from_pandas(rows.iloc[ok], schema=schema, preserve_index=False)
    table = table.append_column(pa.field(FEATURES_COLUMN, column.type), column)
    meta = {
        **meta,
        "dim": extractor.dim,
        "feature_names": extractor.feature_names,
        "n_rows": len(ok),
        "failures": failures,
        "audio_formats": formats.to_json(),
        "load_rate": extractor.sample_rate,
        "complete": True,
    }
    write_atomic(with_metadata(table, meta), Path(out_path))
    return {"index": meta["shard"], "n_ok": len(ok), "n_failed": len(failures)}
