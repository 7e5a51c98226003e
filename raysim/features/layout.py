"""On-disk layout of a feature store: shard names, schema metadata, atomic writes.

A store is a directory of ``shard-NNNNN.parquet`` files, each carrying JSON metadata under
the schema key ``raysim.features`` (feature set, params, dim, shard fingerprint, the
shard's failed files), plus ``failures.parquet`` once an extraction run has finished.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

FEATURES_COLUMN = "features"
METADATA_KEY = b"raysim.features"
FORMAT = "raysim.features/1"
FAILURES_FILE = "failures.parquet"
FAILURE_SCHEMA = pa.schema([(name, pa.string()) for name in ("utt_id", "path", "reason")])
_SHARD_RE = re.compile(r"^shard-(\d{5,})\.parquet$")


def shard_path(out_dir: Path, index: int) -> Path:
    """File of shard `index`."""
    return out_dir / f"shard-{index:05d}.parquet"


def list_shards(directory: Path) -> dict[int, Path]:
    """Shard index -> file, for every shard file in `directory`."""
    found = {}
    for entry in directory.iterdir():
        match = _SHARD_RE.match(entry.name)
        if match and entry.is_file():
            found[int(match.group(1))] = entry
    return dict(sorted(found.items()))


def read_metadata(path: Path) -> dict[str, Any] | None:
    """The shard's raysim metadata, or None when the file has none or is not Parquet."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError):
        return None
    if METADATA_KEY not in meta:
        return None
    return json.loads(meta[METADATA_KEY])


def with_metadata(table: pa.Table, meta: dict[str, Any]) -> pa.Table:
    """`table` with `meta` stored as JSON under the raysim key of its schema metadata."""
    existing = dict(table.schema.metadata or {})
    existing[METADATA_KEY] = json.dumps(meta).encode()
    return table.replace_schema_metadata(existing)


def write_atomic(table: pa.Table, path: Path) -> None:
    """Write Parquet to a temporary name beside `path`, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
