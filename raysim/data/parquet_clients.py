"""Clients whose data lives in Parquet shards on disk, read by the workers on demand.

Layout of a folder written by :func:`write_parquet_clients`:

* ``shard-00000.parquet``, ...: the clients' rows in client order, one column per array
  (an array with per-row shape ``(d1, d2, ...)`` is a fixed-size list of ``d1*d2*...``
  values). Shard k holds a contiguous block of clients; each row group holds a block of
  whole clients (about `rows_per_group` rows), so reading one client reads one small
  row group, never the shard.
* ``index.npz``: per client its sample count (the smallest unsigned dtype that holds
  it) and per row group its first client: all a reader needs to find a client's rows.
* ``manifest.json`` (written last: a folder without it is incomplete): the arrays'
  dtypes and per-row shapes, and per shard its file, clients, rows and row groups.

:class:`ParquetClients` holds only that index (about one byte per client for small
clients), so it is cheap to ship to every worker; a worker keeps a small LRU of open
shard files and decoded row groups, so its memory is bounded whatever the population.
Sample counts come from the index, never from the data.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from raysim.data.clients import ClientData, compact_counts

MANIFEST = "manifest.json"
INDEX = "index.npz"
FORMAT = "raysim-parquet-clients/1"


class ParquetClientsError(ValueError):
    """A shard folder that does not match its manifest; the message names the file."""


def _shard_name(k: int) -> str:
    return f"shard-{k:05d}.parquet"


def _column_type(dtype: np.dtype, shape: tuple[int, ...]) -> pa.DataType:
    """The Parquet column of an array with per-row `shape` (flattened into a list)."""
    value = pa.from_numpy_dtype(dtype)
    return value if not shape else pa.list_(value, int(np.prod(shape)))


def _same_type(found: pa.DataType, want: pa.DataType) -> bool:
    """Whether a shard's column type is the manifest's (list element names aside)."""
    if pa.types.is_fixed_size_list(found) and pa.types.is_fixed_size_list(want):
        return found.list_size == want.list_size and found.value_type.equals(want.value_type)
    return found.equals(want)


def _open_shard(path: Path) -> pq.ParquetFile:
    """The shard at `path`, opened (its footer read); errors name the file."""
    if not path.is_file():
        raise FileNotFoundError(f"shard missing: {path}")
    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as err:
        raise ParquetClientsError(f"{path}: not a readable Parquet shard ({err})") from err


class _ShardWriter:
    """Writes row groups of whole clients into consecutive shard files."""

    def __init__(self, folder: Path, schema: pa.Schema, columns: dict[str, dict[str, Any]]):
        self.folder, self.schema, self.columns = folder, schema, columns
        self.shards: list[dict[str, Any]] = []
        self.group_first: list[int] = []
        self._writer: pq.ParquetWriter | None = None
        self._parts: dict[str, list[np.ndarray]] = {name: [] for name in columns}
        self._first, self._rows = -1, 0  # first client and rows of the open group

    def new_shard(self, first_client: int) -> None:
        self.close_shard()
        name = _shard_name(len(self.shards))
        self._writer = pq.ParquetWriter(
            self.folder / name,
            self.schema,
            compression="none",  # float features hardly compress; reads stay cheap
            use_dictionary=False,
            write_statistics=False,
        )
        self.shards.append(
            {"file": name, "first_client": first_client, "n_clients": 0, "n_rows": 0,
             "n_groups": 0}
        )  # fmt: skip

    def add(self, client: int, arrays: dict[str, np.ndarray]) -> None:
        if self._first < 0:
            self._first = client
        for name, arr in arrays.items():
            self._parts[name].append(arr)
        self._rows += len(next(iter(arrays.values())))
        self.shards[-1]["n_clients"] += 1

    def flush_group(self) -> None:
        """Write the clients added since the last flush as one row group."""
        if self._first < 0:
            return
        cols = {}
        for name, spec in self.columns.items():
            values = pa.array(np.concatenate(self._parts[name]).reshape(-1))
            if spec["shape"]:
                values = pa.FixedSizeListArray.from_arrays(values, int(np.prod(spec["shape"])))
            cols[name] = values
        assert self._writer is not None
        self._writer.write_table(
            pa.table(cols, schema=self.schema), row_group_size=max(self._rows, 1)
        )
        self.group_first.append(self._first)
        self.shards[-1]["n_rows"] += self._rows
        self.shards[-1]["n_groups"] += 1
        self._parts = {name: [] for name in self.columns}
        self._first, self._rows = -1, 0

    @property
    def group_rows(self) -> int:
        return self._rows

    def close_shard(self) -> None:
        self.flush_group()
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def write_parquet_clients(
    folder: str | Path,
    clients: ClientData,
    clients_per_shard: int = 20_000,
    rows_per_group: int = 512,
) -> ParquetClients:
    """Write every client of `clients` into Parquet shards in `folder` (made if
    missing), client by client: only one row group's clients are held at a time.

    A shard holds `clients_per_shard` clients; a row group closes once it holds at
    least `rows_per_group` rows (a client is never split). The manifest is written
    last, so an interrupted write leaves no readable folder. Every client must have
    the same arrays, dtypes and per-row shapes as client 0 (ValueError naming the
    client otherwise). Returns the written folder, opened.
    """
    if clients_per_shard < 1 or rows_per_group < 1:
        raise ValueError("clients_per_shard and rows_per_group must be at least 1")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)  # incomplete until rewritten
    for stale in folder.glob("shard-*.parquet"):  # an earlier write's shards
        stale.unlink()
    n = len(clients)
    if n == 0:
        raise ValueError("no clients to write")
    first = clients.get(0)
    columns = {
        name: {"dtype": np.asarray(a).dtype.str, "shape": list(np.shape(a)[1:])}
        for name, a in first.items()
    }
    schema = pa.schema(
        [
            (name, _column_type(np.dtype(s["dtype"]), tuple(s["shape"])))
            for name, s in columns.items()
        ]
    )
    counts = np.zeros(n, np.int64)
    out = _ShardWriter(folder, schema, columns)
    for c in range(n):
        if c % clients_per_shard == 0:
            out.new_shard(c)
        arrays = first if c == 0 else clients.get(c)
        counts[c] = _check_client(c, arrays, columns)
        out.add(c, {name: np.asarray(arrays[name]) for name in columns})
        if out.group_rows >= rows_per_group:
            out.flush_group()
    out.close_shard()
    np.savez(
        folder / INDEX,
        counts=compact_counts(counts),
        group_first=np.asarray(out.group_first, np.int64),
    )
    manifest = {
        "format": FORMAT,
        "n_clients": n,
        "n_rows": int(counts.sum()),
        "columns": columns,
        "clients_per_shard": clients_per_shard,
        "rows_per_group": rows_per_group,
        "shards": out.shards,
    }
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(folder / MANIFEST)
    return ParquetClients.open(folder)


def _check_client(c: int, arrays: dict[str, np.ndarray], columns: dict[str, dict]) -> int:
    """Client `c`'s row count, after checking its arrays against client 0's."""
    if set(arrays) != set(columns):
        raise ValueError(f"client {c} has arrays {sorted(arrays)}, client 0 {sorted(columns)}")
    rows = {len(a) for a in arrays.values()}
    if len(rows) != 1:
        raise ValueError(f"client {c}: its arrays have different row counts {sorted(rows)}")
    for name, spec in columns.items():
        a = np.asarray(arrays[name])
        if a.dtype.str != spec["dtype"] or list(a.shape[1:]) != spec["shape"]:
            raise ValueError(
                f"client {c}: array {name!r} is {a.dtype} with rows of shape "
                f"{tuple(a.shape[1:])}; client 0's is {np.dtype(spec['dtype'])} "
                f"with rows of shape {tuple(spec['shape'])}"
            )
    return rows.pop()


class ParquetClients:
    """A population stored by :func:`write_parquet_clients` (a ClientData).

    Holds the folder, the shard list and the index (per-client sample counts, per-row-
    group first client); `get(c)` reads the one row group holding client c. Each
    process keeps up to `max_open_files` shard files open and `max_groups` decoded row
    groups (LRU, not pickled), so its memory is bounded whatever the population. An
    open shard holds its parsed footer, about 2 KB per row group (1.6 MB for 20,000
    clients of 20 rows at the writer's defaults); with more shards than
    `max_open_files`, reads past it reopen a file (about 2 ms at that size). The
    folder must be readable at the same path wherever a worker runs.
    """

    def __init__(
        self,
        folder: str | Path,
        manifest: dict[str, Any],
        counts: np.ndarray,
        group_first: np.ndarray,
        max_open_files: int = 64,
        max_groups: int = 8,
    ):
        self.folder = str(folder)
        self.columns: dict[str, dict[str, Any]] = manifest["columns"]
        self.files = [s["file"] for s in manifest["shards"]]
        self.shard_first_group = np.cumsum([0] + [s["n_groups"] for s in manifest["shards"]])
        self.counts = counts
        self.group_first = group_first
        self.max_open_files = max_open_files
        self.max_groups = max_groups
        self._schema = pa.schema(
            [
                (name, _column_type(np.dtype(s["dtype"]), tuple(s["shape"])))
                for name, s in self.columns.items()
            ]
        )
        self._files: OrderedDict[int, pq.ParquetFile] = OrderedDict()
        self._groups: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()

    @classmethod
    def open(cls, folder: str | Path, verify: bool = True, **cache: int) -> ParquetClients:
        """The population in `folder` from its manifest and index (no data is read).

        Every shard must exist (FileNotFoundError naming it); with `verify` each
        shard's footer (not its data) is also checked against the manifest: columns,
        rows and row groups (:class:`ParquetClientsError` naming the file).
        `cache` sets `max_open_files` and `max_groups`.
        """
        folder = Path(folder)
        path = folder / MANIFEST
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no manifest (not a folder written by write_parquet_clients, "
                "or the write did not finish)"
            )
        manifest = json.loads(path.read_text())
        if manifest.get("format") != FORMAT:
            raise ParquetClientsError(f"{path}: format {manifest.get('format')!r}, not {FORMAT}")
        with np.load(folder / INDEX) as index:
            counts, group_first = index["counts"], index["group_first"]
        if len(counts) != manifest["n_clients"]:
            raise ParquetClientsError(
                f"{folder / INDEX}: {len(counts)} clients, manifest says {manifest['n_clients']}"
            )
        clients = cls(folder, manifest, counts, group_first, **cache)
        for shard in manifest["shards"]:
            file = folder / shard["file"]
            if not verify:
                if not file.is_file():
                    raise FileNotFoundError(f"shard missing: {file}")
                continue
            with _open_shard(file) as f:
                clients._check_footer(f, shard)
        return clients

    # -- ClientData ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.counts)

    def num_samples(self, client_id: int) -> int:
        return int(self.counts[client_id])

    def sample_counts(self) -> np.ndarray:
        """Every client's sample count, from the index (in its compact dtype)."""
        return self.counts.copy()

    def get(self, client_id: int) -> dict[str, np.ndarray]:
        """Client `client_id`'s arrays (copies), read from its row group."""
        c = int(client_id)
        if not 0 <= c < len(self.counts):
            raise IndexError(f"client {c} outside 0..{len(self.counts) - 1}")
        g = int(np.searchsorted(self.group_first, c, side="right")) - 1
        lo = int(self.counts[self.group_first[g] : c].sum(dtype=np.int64))
        hi = lo + int(self.counts[c])
        return {name: arr[lo:hi].copy() for name, arr in self._group(g).items()}

    # -- reading -------------------------------------------------------------------------
    def _group(self, g: int) -> dict[str, np.ndarray]:
        """Row group `g` (numbered across all shards) as arrays, through the LRU."""
        if g in self._groups:
            self._groups.move_to_end(g)
            return self._groups[g]
        k = int(np.searchsorted(self.shard_first_group, g, side="right")) - 1
        shard = self._file(k)
        try:
            # one thread: a worker trains with one, and a row group is small
            table = shard.read_row_group(g - int(self.shard_first_group[k]), use_threads=False)
        except (OSError, pa.ArrowException) as err:
            path = Path(self.folder) / self.files[k]
            raise ParquetClientsError(f"{path}: cannot read its row groups ({err})") from err
        arrays = {}
        for name, spec in self.columns.items():
            chunks = table.column(name).chunks
            col = chunks[0] if len(chunks) == 1 else pa.concat_arrays(chunks)
            values = col.flatten() if spec["shape"] else col
            arrays[name] = values.to_numpy(zero_copy_only=False).reshape(-1, *spec["shape"])
        self._groups[g] = arrays
        if len(self._groups) > self.max_groups:
            self._groups.popitem(last=False)
        return arrays

    def _file(self, k: int) -> pq.ParquetFile:
        """Shard `k`, opened once (and its schema checked) and kept in the LRU."""
        if k in self._files:
            self._files.move_to_end(k)
            return self._files[k]
        path = Path(self.folder) / self.files[k]
        f = _open_shard(path)
        self._check_schema(path, f)
        self._files[k] = f
        if len(self._files) > self.max_open_files:
            self._files.popitem(last=False)[1].close()
        return f

    def _check_schema(self, path: Path, f: pq.ParquetFile) -> None:
        found = f.schema_arrow
        for name, want in zip(self._schema.names, self._schema.types, strict=True):
            if name not in found.names:
                raise ParquetClientsError(f"{path}: no column {name!r} (has {found.names})")
            got = found.field(name).type
            if not _same_type(got, want):
                raise ParquetClientsError(
                    f"{path}: column {name!r} is {got}, the manifest says {want}"
                )

    def _check_footer(self, f: pq.ParquetFile, shard: dict[str, Any]) -> None:
        path = Path(self.folder) / shard["file"]
        self._check_schema(path, f)
        md = f.metadata
        if md.num_rows != shard["n_rows"] or md.num_row_groups != shard["n_groups"]:
            raise ParquetClientsError(
                f"{path}: {md.num_rows} rows in {md.num_row_groups} row groups, the manifest "
                f"says {shard['n_rows']} in {shard['n_groups']}"
            )

    def close(self) -> None:
        """Close the open shard files and drop the cached row groups."""
        for f in self._files.values():
            f.close()
        self._files.clear()
        self._groups.clear()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_files"], state["_groups"] = OrderedDict(), OrderedDict()
        return state
