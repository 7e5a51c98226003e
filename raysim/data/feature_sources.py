"""Data sources over feature stores: a store written by `features/extract.py`,
or the built-in procedural SER corpus (generated, then extracted, once).

Server data is held out by group (speaker-independent, as SER evaluations
require) or by the manifest's split column; the rest is partitioned into
clients (by default one client per speaker).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from raysim.data.clients import ArrayClients
from raysim.data.errors import DataConfigError
from raysim.data.held_out import HeldOutParams
from raysim.data.sources import PathSourceParams, SourceData, SourceParams
from raysim.registry import PARTITIONERS
from raysim.rng import Stream, stream

log = logging.getLogger(__name__)


class FeatureStoreParams(PathSourceParams):
    """A feature store on disk as client data."""

    path_kind: ClassVar[Literal["file", "folder"]] = "folder"
    path_hint: ClassVar[str] = "a feature store made by features/extract.py"
    label_column: str = "label"
    classes: list[str] | None = Field(
        None,
        min_length=2,
        description="the classes to use, in this order (default: every label, sorted); rows "
        "of other labels are dropped and counted (info['dropped_rows'])",
    )
    group_column: str = "speaker"
    standardize: Literal["none", "global"] = Field(
        "none",
        description="global: z-normalise every row with the training clients' pooled mean and "
        "std, i.e. what one federated statistics round (clients send Σx, Σx², n) yields",
    )
    held_out: HeldOutParams = Field(default_factory=HeldOutParams)
    partition: PARTITIONERS.type = PARTITIONERS.field({"name": "group"})

    @field_validator("classes", mode="before")
    @classmethod
    def _classes_as_strings(cls, value: object) -> object:
        """Labels are strings; YAML reads ``data.classes=[0,2]`` as numbers."""
        if isinstance(value, list | tuple):
            return [
                str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                for v in value
            ]
        return value

    @field_validator("classes")
    @classmethod
    def _classes_once(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) < len(value):
            twice = sorted({c for c in value if value.count(c) > 1})
            raise ValueError(f"classes listed twice: {', '.join(twice)}")
        return value

    def input_problems(self) -> list[tuple[str, str]]:
        """The store's path, and with `classes` its labels (only the label column is read)."""
        problems = super().input_problems()
        if problems:
            return problems
        from raysim.features.layout import list_shards

        path = Path(self.path).expanduser()
        if not list_shards(path):
            return [("path", f"{path} holds no shard-*.parquet files ({self.path_hint})")]
        if self.classes is not None:
            from raysim.features.store import FeatureStore, FeatureStoreError

            try:
                store = FeatureStore(path)
            except FeatureStoreError as err:
                return [("path", str(err))]
            if self.label_column not in store.columns:
                return [("label_column", f"{self.label_column!r} is not a column of {path}")]
            labels = store.table([self.label_column]).column(0).to_pandas().astype(str)
            problem = unknown_classes(self.classes, labels, str(path), self.label_column)
            if problem:
                return [("classes", problem)]
        return []


def unknown_classes(
    classes: list[str], labels: pd.Series, origin: str, label_column: str
) -> str | None:
    """Why `classes` cannot be selected from `labels` (a class no row has), naming the
    class, the store and the labels it has; None if every class has rows."""
    present = set(labels)
    absent = [c for c in classes if c not in present]
    if not absent:
        return None
    shown = ", ".join(repr(c) for c in absent)
    return (
        f"{shown} {'is not a label' if len(absent) == 1 else 'are not labels'} of {origin} "
        f"(column {label_column!r} has {', '.join(sorted(present))})"
    )


def select_classes(
    labels: pd.Series, classes: list[str] | None, origin: str, label_column: str
) -> tuple[list[str], np.ndarray, dict[str, int]]:
    """(class order, boolean mask of the rows kept, rows dropped per other label).

    Without `classes` every label is a class (sorted) and every row is kept; with them,
    rows of other labels are dropped. A listed class no row has raises ValueError naming
    ``data.classes``.
    """
    if classes is None:
        return sorted(labels.unique()), np.ones(len(labels), dtype=bool), {}
    problem = unknown_classes(classes, labels, origin, label_column)
    if problem:
        raise DataConfigError(f"data.classes: {problem}")
    keep = labels.isin(classes).to_numpy()
    dropped = {str(k): int(v) for k, v in labels[~keep].value_counts().sort_index().items()}
    return list(classes), keep, dropped


def pooled_standardize(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Rows of `x` z-normalised with the mean and std of the `train` rows (float32)."""
    n = len(train)
    s1 = x[train].sum(0, dtype=np.float64)
    s2 = np.square(x[train], dtype=np.float64).sum(0)
    mean = s1 / n
    std = np.sqrt(np.maximum(s2 / n - mean**2, 0.0))
    return ((x - mean) / np.where(std > 1e-8, std, 1.0)).astype(np.float32)


def held_out_mask(
    meta: pd.DataFrame, params: HeldOutParams, group_column: str, seed: int
) -> np.ndarray:
    """Boolean mask of the rows the server keeps."""
    if params.by == "split":
        if "split" not in meta:
            raise DataConfigError("data.held_out.by='split' but the store has no 'split' column")
        mask = (meta["split"].astype(str) == params.split_value).to_numpy()
    else:
        groups = meta[group_column].astype(str)
        names = np.array(sorted(groups.unique()))
        if params.groups is not None:
            unknown = set(params.groups) - set(groups)
            if unknown:
                raise DataConfigError(f"data.held_out.groups: no rows for {sorted(unknown)}")
            chosen = set(params.groups)
        elif params.folds is not None:
            if params.folds > len(names):
                msg = f"data.held_out.folds={params.folds} but only {len(names)} groups"
                raise DataConfigError(msg)
            chosen = params.fold_groups(names)
        else:
            n = max(1, int(round(params.fraction * len(names)))) if params.fraction else 0
            if n >= len(names):
                msg = f"data.held_out.fraction={params.fraction} leaves no training groups"
                raise DataConfigError(msg)
            chosen = set(stream(seed, Stream.HELD_OUT_GROUPS).choice(names, n, replace=False))
        mask = groups.isin(chosen).to_numpy()
    if mask.all() or not mask.any():
        msg = "data.held_out: the split leaves no training rows or no held-out rows"
        raise DataConfigError(msg)
    return mask


def source_from_features(
    x: np.ndarray, meta: pd.DataFrame, params: FeatureStoreParams, seed: int, origin: str
) -> SourceData:
    """Split features into server data and partitioned clients."""
    for key in ("label_column", "group_column"):
        col = getattr(params, key)
        if col not in meta:
            raise DataConfigError(
                f"data.{key}: {origin} has no column {col!r} (columns: {list(meta.columns)})"
            )
    labels = meta[params.label_column].astype(str)
    classes, keep, dropped = select_classes(labels, params.classes, origin, params.label_column)
    if dropped:
        log.warning(
            "data.classes %s: dropped %d of %d rows of %s (%s)",
            classes,
            sum(dropped.values()),
            len(labels),
            origin,
            ", ".join(f"{label}: {n}" for label, n in dropped.items()),
        )
        x, meta = x[keep], meta[keep].reset_index(drop=True)
        labels = labels[keep].reset_index(drop=True)
    y = labels.map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    group_names = sorted(meta[params.group_column].astype(str).unique())
    g = meta[params.group_column].astype(str).map({n: i for i, n in enumerate(group_names)})
    g = g.to_numpy(np.int64)
    test = held_out_mask(meta, params.held_out, params.group_column, seed)
    train = np.flatnonzero(~test)
    if params.standardize == "global":
        x = pooled_standardize(x, train)
    part = PARTITIONERS.build(params.partition, y[train], seed, g[train])
    arrays = {"x": x[train], "y": y[train], "group": g[train]}
    info = {
        "input_dim": int(x.shape[1]),
        "num_classes": len(classes),
        "classes": list(classes),
        "groups": group_names,
        "dropped_rows": dropped,  # label -> rows left out by data.classes
    }
    eval_data = {"x": x[test], "y": y[test], "group": g[test]}
    return SourceData(ArrayClients.from_partition(arrays, part.indices), eval_data, info)


def feature_store(params: FeatureStoreParams, seed: int) -> SourceData:
    """Clients and server data from a feature store directory."""
    from raysim.features.store import FeatureStore

    x, meta = FeatureStore(params.path).to_numpy()
    return source_from_features(x, meta, params, seed, params.path)


class ProceduralSERParams(SourceParams):
    """The built-in procedural emotional-speech corpus, as eGeMAPS (or other) features.

    Its feature store is built once and cached; :meth:`prepare` builds it before a
    sweep's trials, which then read it as a ``feature_store``.
    """

    prepared_keys = (
        "n_speakers", "utterances_per_speaker_per_emotion", "emotion_strength",
        "sample_rate", "feature_set", "cache_dir",
    )  # fmt: skip
    n_speakers: int = Field(8, ge=2)
    utterances_per_speaker_per_emotion: int = Field(10, ge=1)
    emotion_strength: float = Field(
        1.0, ge=0, description="how far emotions move prosody from neutral (<1: more overlap)"
    )
    sample_rate: int = Field(16000, ge=8000)
    feature_set: str = "egemaps"
    standardize: Literal["none", "global"] = Field(
        "none", description="as feature_store's standardize"
    )
    cache_dir: str | None = Field(None, description="default: $RAYSIM_CACHE or ~/.cache/raysim")
    held_out: HeldOutParams = Field(default_factory=HeldOutParams)
    partition: PARTITIONERS.type = PARTITIONERS.field({"name": "group"})

    def prepare(self) -> FeatureStoreParams:
        """Generate and extract the corpus now; trials read the store it wrote."""
        return self.as_feature_store(procedural_store(self, progress=True))

    def as_feature_store(self, store: Path) -> FeatureStoreParams:
        """The same data as a ``feature_store`` source reading `store`."""
        kept = self.model_dump(include={"standardize", "held_out", "partition"})
        return FeatureStoreParams(source="feature_store", path=str(store.resolve()), **kept)


def cache_root(cache_dir: str | None = None) -> Path:
    """Where generated corpora and their features are kept between runs."""
    return Path(cache_dir or os.environ.get("RAYSIM_CACHE") or Path.home() / ".cache" / "raysim")


def procedural_store(params: ProceduralSERParams, progress: bool = False) -> Path:
    """Generate the corpus and extract its features once; returns the store path.

    Both steps are keyed by their arguments and skip completed work, so every
    later run (or sweep trial) only reads the store.
    """
    from raysim.data.procedural import generate_corpus
    from raysim.features.extract import extract_features

    corpus_args = {
        "n_speakers": params.n_speakers,
        "utterances_per_speaker_per_emotion": params.utterances_per_speaker_per_emotion,
        "noise_clips_per_class": 0,
        "sample_rate": params.sample_rate,
        "seed": 0,
    }
    if params.emotion_strength != 1.0:  # keyed only when set: existing caches stay valid
        corpus_args["emotion_strength"] = params.emotion_strength
    key = hashlib.sha1(json.dumps([corpus_args, params.feature_set], sort_keys=True).encode())
    root = cache_root(params.cache_dir) / f"procedural-ser-{key.hexdigest()[:10]}"
    speech, _ = generate_corpus(root / "corpus", **corpus_args)
    store = root / params.feature_set
    extract_features(speech, store, params.feature_set, progress=progress)
    return store


def procedural_ser(params: ProceduralSERParams, seed: int) -> SourceData:
    """Clients (one per synthetic speaker by default) holding emotion-labelled features."""
    return feature_store(params.as_feature_store(procedural_store(params)), seed)
