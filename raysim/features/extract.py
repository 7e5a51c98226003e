"""Parallel feature extraction on Ray: manifest in, sharded Parquet feature store out."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import ray
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from raysim.audio.conversion import FormatCounts, conversion_summary
from raysim.features.base import FeatureConfig, resolve_config
from raysim.features.layout import (
    FAILURE_SCHEMA,
    FAILURES_FILE,
    FEATURES_COLUMN,
    FORMAT,
    list_shards,
    read_metadata,
    shard_path,
    write_atomic,
)
from raysim.features.shard import extract_shard
from raysim.parquet_input import NotParquetError, read_parquet_manifest
from raysim.ray_runtime import init_ray

DEFAULT_SHARD_SIZE = 64
REQUIRED_COLUMNS = ("utt_id", "path")
_extract_shard_remote = ray.remote(num_cpus=1)(extract_shard)


class FeatureExtractionError(RuntimeError):
    """A shard task failed as a whole, or the output directory holds another feature set."""


@dataclass(frozen=True)
class ExtractionSummary:
    """Outcome of one :func:`extract_features` call over the whole store."""

    out_dir: Path
    feature_set: str
    dim: int
    n_ok: int
    n_failed: int
    n_shards: int
    n_shards_skipped: int  # already complete from an earlier run
    seconds: float
    failures_file: Path  # every failed file with its reason (utt_id, path, reason)
    audio: str | None = None  # what loading resampled and down-mixed (None: not recorded)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            **asdict(self),
            "out_dir": str(self.out_dir),
            "failures_file": str(self.failures_file),
        }

    def report_lines(self, limit: int = 5) -> list[str]:
        """Human-readable account: the audio conversion, and the failed files (the first
        `limit` with their reasons) with where the full list is."""
        lines = [f"audio: {self.audio}"] if self.audio else []
        if not self.n_failed:
            lines.append(f"failures: none ({self.failures_file} is empty)")
            return lines
        files = f"{self.n_failed} file{'s' if self.n_failed > 1 else ''}"
        lines.append(f"failures: {files} failed, listed in {self.failures_file}:")
        failed = pq.read_table(self.failures_file).slice(0, limit).to_pylist()
        lines += [f"  {row['path']}: {row['reason']}" for row in failed]
        if self.n_failed > limit:
            lines.append(f"  ... and {self.n_failed - limit} more")
        return lines


@dataclass(frozen=True)
class _Shard:
    index: int
    rows: pd.DataFrame
    paths: list[str]
    fingerprint: str


def load_manifest(manifest: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Validated copy of a manifest: unique string `utt_id`, `path` as str, other columns."""
    if isinstance(manifest, pd.DataFrame):
        df, name = manifest, "manifest DataFrame"
    else:
        name = str(manifest)
        try:  # one-line errors for a missing file and for a CSV given as the manifest
            df = read_parquet_manifest(manifest)
        except NotParquetError as err:
            raise ValueError(str(err)) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; has {list(df.columns)}")
    if FEATURES_COLUMN in df.columns:
        raise ValueError(f"{name}: column {FEATURES_COLUMN!r} is reserved for the output")
    if df.empty:
        raise ValueError(f"{name}: manifest has no rows")
    bad_ids = df.loc[~df["utt_id"].map(lambda v: isinstance(v, str) and bool(v)), "utt_id"]
    if len(bad_ids):
        raise ValueError(f"{name}: utt_id must be non-empty strings, got {bad_ids.head().tolist()}")
    dupes = df.loc[df["utt_id"].duplicated(), "utt_id"].unique()
    if len(dupes):
        raise ValueError(f"{name}: duplicate utt_id values {dupes[:5].tolist()}")
    no_path = df.loc[df["path"].isna(), "utt_id"]
    if len(no_path):
        raise ValueError(f"{name}: no path for utt_id {no_path.head().tolist()}")
    df = df.reset_index(drop=True)
    df["path"] = df["path"].map(str)  # pathlib.Path values cannot be stored in Parquet
    return df


def _arrow_schema(df: pd.DataFrame) -> pa.Schema:
    try:
        return pa.Schema.from_pandas(df, preserve_index=False).remove_metadata()
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise ValueError(f"manifest columns cannot be stored in Parquet: {err}") from err


def _fingerprint(
    feature_set: str,
    params: dict[str, Any],
    rows: pd.DataFrame,
    paths: list[str],
    schema: pa.Schema,
) -> str:
    """Hash of everything a shard's file depends on: feature set, params, all row values."""
    digest = hashlib.sha256(json.dumps([feature_set, params, paths]).encode())
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_table(pa.Table.from_pandas(rows, schema=schema, preserve_index=False))
    digest.update(sink.getvalue())
    return digest.hexdigest()


def _plan(
    df: pd.DataFrame, schema: pa.Schema, shard_size: int, feature_set: str, params: dict[str, Any]
) -> list[_Shard]:
    paths = [os.path.abspath(os.path.expanduser(p)) for p in df["path"]]
    shards = []
    for index, start in enumerate(range(0, len(df), shard_size)):
        rows, shard_paths = df.iloc[start : start + shard_size], paths[start : start + shard_size]
        key = _fingerprint(feature_set, params, rows, shard_paths, schema)
        shards.append(_Shard(index, rows, shard_paths, key))
    return shards


def _pending(out: Path, shards: list[_Shard], feature_set: str, params: dict) -> list[_Shard]:
    """Shards still to compute; raises if `out` holds another feature set, drops stale files."""
    existing = list_shards(out)
    metas = {i: read_metadata(p) for i, p in existing.items()}
    for meta in metas.values():
        if meta and (meta.get("feature_set"), meta.get("params")) != (feature_set, params):
            raise FeatureExtractionError(
                f"{out} already holds {meta.get('feature_set')!r} features with params "
                f"{meta.get('params')}; write {feature_set!r} {params} to another directory"
            )
    for i, path in existing.items():
        if i >= len(shards):  # left from an earlier run over a longer manifest
            path.unlink()
    for tmp in out.glob(".shard-*.tmp"):
        tmp.unlink(missing_ok=True)
    return [
        s
        for s in shards
        if not (
            metas.get(s.index)
            and metas[s.index].get("complete")
            and metas[s.index].get("fingerprint") == s.fingerprint
        )
    ]


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("shards  {task.fields[ok]} ok, {task.fields[failed]} failed"),
        TimeElapsedColumn(),
        disable=not enabled,
    )


def extract_features(
    manifest: pd.DataFrame | str | Path,
    out_dir: str | Path,
    feature_set: str,
    params: Mapping[str, Any] | None = None,
    *,
    num_workers: int | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    on_error: str = "record",
    progress: bool = True,
) -> ExtractionSummary:
    """Extract `feature_set` for every manifest row into a sharded Parquet store at `out_dir`.

    The manifest (DataFrame or Parquet path) needs `utt_id` and `path` (relative paths are
    taken from the current directory); every column is carried to the output, plus a
    FixedSizeList<float32> column `features`. Each shard of `shard_size` rows is one Ray
    task (one CPU) that loads its own audio and writes its own file, so `out_dir` must be
    visible to every Ray node; at most `num_workers` run at once (default: all CPUs of the
    Ray cluster, which is started locally if not yet initialised). Complete shards from an
    earlier run with the same inputs are skipped. With ``on_error="record"`` files that
    fail (unreadable audio, NaN/inf features) go to ``failures.parquet`` and the rest
    completes; ``"raise"`` stops at the first one. The summary names that file and says
    how many files loading resampled and down-mixed (``audio``).
    """
    start = time.perf_counter()
    if on_error not in ("record", "raise"):
        raise ValueError(f"on_error must be 'record' or 'raise', got {on_error!r}")
    if not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive int, got {shard_size!r}")
    if num_workers is not None and num_workers < 1:
        raise ValueError(f"num_workers must be >= 1, got {num_workers!r}")
    config = resolve_config(feature_set, params)
    resolved = config.to_params()
    df = load_manifest(manifest)
    schema = _arrow_schema(df)
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    shards = _plan(df, schema, shard_size, feature_set, resolved)
    todo = _pending(out, shards, feature_set, resolved)
    if todo:
        (out / FAILURES_FILE).unlink(missing_ok=True)
        init_ray()  # a no-op if Ray is up; else a lean local start
        workers = num_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        _run(todo, config, schema, out, feature_set, resolved, on_error, workers, progress)
    return _finish(out, shards, feature_set, len(shards) - len(todo), start)


def _run(
    todo: list[_Shard],
    config: FeatureConfig,
    schema: pa.Schema,
    out: Path,
    feature_set: str,
    params: dict[str, Any],
    on_error: str,
    workers: int,
    progress: bool,
) -> None:
    """Run shard tasks, at most `workers` at a time, advancing a progress bar from the driver."""
    queue, inflight = deque(todo), {}
    config_ref, schema_ref = ray.put(config), ray.put(schema)
    n_ok = n_failed = 0
    with _progress(progress) as bar:
        task = bar.add_task(f"{feature_set} features", total=len(todo), ok=0, failed=0)
        while queue or inflight:
            while queue and len(inflight) < workers:
                shard = queue.popleft()
                meta = {
                    "format": FORMAT,
                    "feature_set": feature_set,
                    "params": params,
                    "shard": shard.index,
                    "fingerprint": shard.fingerprint,
                }
                out_path = str(shard_path(out, shard.index))
                ref = _extract_shard_remote.remote(
                    config_ref, shard.rows, shard.paths, schema_ref, out_path, meta, on_error
                )
                inflight[ref] = shard
            done, _ = ray.wait(list(inflight), num_returns=1)
            shard = inflight.pop(done[0])
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayError as err:
                for ref in inflight:
                    ray.cancel(ref)
                cause = getattr(err, "cause", None) or err
                raise FeatureExtractionError(
                    f"shard {shard.index} (utt_id {shard.rows['utt_id'].iat[0]}...) of {out} "
                    f"failed: {cause}"
                ) from err
            n_ok, n_failed = n_ok + result["n_ok"], n_failed + result["n_failed"]
            bar.update(task, advance=1, ok=n_ok, failed=n_failed)


def _finish(
    out: Path, shards: list[_Shard], feature_set: str, n_skipped: int, start: float
) -> ExtractionSummary:
    """Write failures.parquet from every shard's metadata and sum up."""
    failures, n_ok, dim = [], 0, 0
    formats, load_rate, recorded = FormatCounts(), None, False
    for shard in shards:
        meta = read_metadata(shard_path(out, shard.index))
        if not meta or not meta.get("complete"):
            raise FeatureExtractionError(f"{shard_path(out, shard.index)}: shard incomplete")
        failures.extend(meta["failures"])
        n_ok, dim = n_ok + meta["n_rows"], meta["dim"]
        if "audio_formats" in meta:  # shards written before it was recorded lack it
            formats.update(FormatCounts.from_json(meta["audio_formats"]))
            load_rate, recorded = meta["load_rate"], True
    write_atomic(pa.Table.from_pylist(failures, schema=FAILURE_SCHEMA), out / FAILURES_FILE)
    return ExtractionSummary(
        out_dir=out,
        feature_set=feature_set,
        dim=dim,
        n_ok=n_ok,
        n_failed=len(failures),
        n_shards=len(shards),
        n_shards_skipped=n_skipped,
        seconds=time.perf_counter() - start,
        failures_file=out / FAILURES_FILE,
        audio=conversion_summary(formats, load_rate, done=True) if recorded else None,
    )
