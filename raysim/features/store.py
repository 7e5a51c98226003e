"""Reading a feature store written by :func:`raysim.features.extract_features`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from raysim.features.layout import FAILURES_FILE, FEATURES_COLUMN, list_shards, read_metadata

Filter = pc.Expression | Mapping[str, Any] | None


class FeatureStoreError(ValueError):
    """A path that is not a (consistent, finished) feature store, or a bad query on one."""


def _columns(schema: pa.Schema) -> str:
    return ", ".join(f"{field.name}: {field.type}" for field in schema)


class FeatureStore:
    """A sharded Parquet feature store: metadata, filtered tables and numpy matrices.

    Filters are a ``pyarrow.compute`` expression (``pc.field("speaker") == "SM1"``) or a
    mapping ``{column: value or list of values}``; both are pushed down to the Parquet scan.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        if not self.path.is_dir():
            raise FeatureStoreError(f"{self.path}: not a feature store (no such directory)")
        shards = list_shards(self.path)
        if not shards:
            raise FeatureStoreError(f"{self.path}: not a feature store (no shard-*.parquet files)")
        first: dict[str, Any] | None = None
        first_schema: pa.Schema | None = None
        for shard in shards.values():
            meta = read_metadata(shard)
            if meta is None:
                raise FeatureStoreError(f"{shard}: not a feature-store shard (no raysim metadata)")
            schema = pq.read_schema(shard).remove_metadata()
            first, first_schema = first or meta, first_schema or schema
            drift = [
                f"{key} {meta.get(key)!r} (other shards: {first.get(key)!r})"
                for key in ("feature_set", "params", "dim")
                if meta.get(key) != first.get(key)
            ]
            if not drift and schema != first_schema:
                drift = [f"columns {_columns(schema)} (other shards: {_columns(first_schema)})"]
            if drift:
                raise FeatureStoreError(
                    f"{shard}: {'; '.join(drift)}: a store holds one extraction "
                    "(extract again into an empty folder)"
                )
        assert first is not None
        self.feature_set: str = first["feature_set"]
        self.params: dict[str, Any] = first["params"]
        self.dim: int = first["dim"]
        self.feature_names: list[str] | None = first.get("feature_names")
        self._dataset = ds.dataset([str(p) for p in shards.values()], format="parquet")

    @property
    def columns(self) -> list[str]:
        """All column names, `features` included."""
        return list(self._dataset.schema.names)

    def __len__(self) -> int:
        return self._dataset.count_rows()

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.path)!r}, feature_set={self.feature_set!r}, dim={self.dim})"

    def _expression(self, filter: Filter) -> pc.Expression | None:
        if filter is None or isinstance(filter, pc.Expression):
            return filter
        expr = None
        for column, value in filter.items():
            self._check_columns([column])
            is_list = isinstance(value, Sequence) and not isinstance(value, str)
            term = pc.field(column).isin(list(value)) if is_list else pc.field(column) == value
            expr = term if expr is None else expr & term
        return expr

    def _check_columns(self, columns: Sequence[str]) -> None:
        unknown = [c for c in columns if c not in self.columns]
        if unknown:
            raise FeatureStoreError(f"{self.path}: no column(s) {unknown}; has {self.columns}")

    def table(self, columns: Sequence[str] | None = None, filter: Filter = None) -> pa.Table:
        """Rows matching `filter` (all by default), restricted to `columns` if given."""
        if columns is not None:
            self._check_columns(columns)
        try:
            return self._dataset.to_table(
                columns=list(columns) if columns is not None else None,
                filter=self._expression(filter),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
            raise FeatureStoreError(f"{self.path}: bad filter {filter!r} ({err})") from err

    def to_numpy(self, filter: Filter = None) -> tuple[np.ndarray, pd.DataFrame]:
        """(X float32 (n, dim), metadata columns as a DataFrame) of the rows matching `filter`.

        Raises :class:`FeatureStoreError` naming the utterances if any value is NaN or inf.
        """
        table = self.table(filter=filter)
        column = table.column(FEATURES_COLUMN).combine_chunks()
        if len(column) == 0:
            features = np.empty((0, self.dim), dtype=np.float32)
        else:
            values = column.flatten().to_numpy(zero_copy_only=False)
            features = values.astype(np.float32, copy=False).reshape(len(column), self.dim)
        meta = table.drop_columns([FEATURES_COLUMN]).to_pandas()
        bad = ~np.isfinite(features).all(axis=1)
        if bad.any():
            ids = meta.loc[bad, "utt_id"].head().tolist()
            raise FeatureStoreError(f"{self.path}: NaN/inf features in {int(bad.sum())} rows {ids}")
        return features, meta

    def failures(self) -> pd.DataFrame:
        """Files that failed extraction: utt_id, path, reason."""
        path = self.path / FAILURES_FILE
        if not path.is_file():
            raise FeatureStoreError(f"{path}: missing; the extraction run has not finished")
        return pq.read_table(path).to_pandas()


def read_client(
    path: str | Path, client: Any, column: str = "client"
) -> tuple[np.ndarray, pd.DataFrame]:
    """(X, metadata) of the rows whose `column` (e.g. client or speaker) equals `client`.

    Meant for Ray workers: each reads only its own rows, pushed down to the Parquet scan.
    """
    store = FeatureStore(path)
    features, meta = store.to_numpy(filter={column: client})
    if len(meta) == 0:
        raise FeatureStoreError(f"{store.path}: no rows with {column} == {client!r}")
    return features, meta
