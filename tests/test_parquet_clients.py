"""Clients stored in Parquet shards (`raysim.data.parquet_clients`)."""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import raysim
from raysim.data.clients import ArrayClients, sample_counts
from raysim.data.parquet_clients import (
    ParquetClients,
    ParquetClientsError,
    write_parquet_clients,
)
from raysim.data.sources import SourceData, build_source
from raysim.federation import federation_of


def source(n_clients: int = 300, seed: int = 0) -> ArrayClients:
    """Clients of 0..39 rows (two of them empty), x of rows (3, 2), integer y."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 40, n_clients)
    counts[[5, 6]] = 0
    offsets = np.concatenate([[0], np.cumsum(counts)])
    x = rng.normal(size=(offsets[-1], 3, 2)).astype(np.float32)
    return ArrayClients({"x": x, "y": rng.integers(0, 4, offsets[-1])}, offsets)


@pytest.fixture
def written(tmp_path) -> tuple[ArrayClients, ParquetClients]:
    src = source()
    return src, write_parquet_clients(tmp_path, src, clients_per_shard=70, rows_per_group=50)


def test_every_client_reads_back_exactly(written):
    src, clients = written
    assert len(clients.files) == 5 and len(clients.group_first) > len(clients.files)
    clients = pickle.loads(pickle.dumps(clients))  # as a worker gets it
    assert len(clients) == len(src)
    assert np.array_equal(clients.sample_counts(), src.sample_counts())
    assert clients.sample_counts().dtype == np.uint8  # the index's compact dtype
    for c in [*range(len(src)), 299, 0, 150]:  # every client, then out of order
        got, want = clients.get(c), src.get(c)
        assert got.keys() == want.keys()
        for k in want:
            assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape
            assert np.array_equal(got[k], want[k])
        assert clients.num_samples(c) == src.num_samples(c)
    assert len(clients._groups) <= clients.max_groups
    with pytest.raises(IndexError):
        clients.get(len(src))


def test_shipped_object_holds_no_data(written):
    src, clients = written
    clients.get(0)  # fills the caches, which are not pickled
    assert len(pickle.dumps(clients)) < src.arrays["x"].nbytes / 10


def test_federation_reads_counts_not_data(written, monkeypatch):
    src, clients = written

    def no_reads(*_):
        raise AssertionError("client data read")

    monkeypatch.setattr(ParquetClients, "get", no_reads)
    data = SourceData(clients, {"x": src.arrays["x"][:4], "y": src.arrays["y"][:4]})
    cfg = {"task": {"name": "feature_classification"}}
    assert federation_of(cfg, data).examples == src.sample_counts().tolist()
    assert np.array_equal(sample_counts(clients), src.sample_counts())


def test_missing_shard_is_named(written, tmp_path):
    _, clients = written
    shard = tmp_path / clients.files[2]
    shard.unlink()
    with pytest.raises(FileNotFoundError, match=str(shard)):
        ParquetClients.open(tmp_path)
    with pytest.raises(FileNotFoundError, match=str(shard)):
        clients.get(150)  # clients 140..209 live in shard 2
    clients.get(0)  # the others still read


def test_shard_of_another_width_is_named(written, tmp_path):
    src, clients = written
    shard = tmp_path / clients.files[1]
    n_rows = pq.ParquetFile(shard).metadata.num_rows
    wide = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(n_rows * 7, np.float32)), 7)
    pq.write_table(pa.table({"x": wide, "y": pa.array(np.zeros(n_rows, np.int64))}), shard)
    with pytest.raises(ParquetClientsError, match=f"{shard}: column 'x'"):
        ParquetClients.open(tmp_path)
    unchecked = ParquetClients.open(tmp_path, verify=False)
    with pytest.raises(ParquetClientsError, match=f"{shard}: column 'x'"):
        unchecked.get(100)  # clients 70..139 live in shard 1
    assert np.array_equal(unchecked.get(0)["x"], src.get(0)["x"])


def test_writer_names_a_client_that_differs(tmp_path):
    src = source(20)
    bad = ArrayClients(
        {"x": src.arrays["x"].reshape(len(src.arrays["x"]), 6), "y": src.arrays["y"]},
        src.offsets,
    )

    class Mixed:  # client 7 has rows of another shape
        def __len__(self):
            return len(src)

        def num_samples(self, c):
            return src.num_samples(c)

        def get(self, c):
            return bad.get(c) if c == 7 else src.get(c)

    with pytest.raises(ValueError, match="client 7: array 'x'"):
        write_parquet_clients(tmp_path, Mixed(), clients_per_shard=8)
    with pytest.raises(FileNotFoundError, match="no manifest"):
        ParquetClients.open(tmp_path)


def test_simulation_trains_from_shards(ray_session, tmp_path):
    # one FedAvg round of every client, read by a worker from the shards, against the
    # same round computed here from the arrays
    import torch

    from raysim.engine.flat import get_flat
    from raysim.engine.local import client_rng, train_client
    from raysim.registry import STRATEGIES, TASKS
    from raysim.tasks.base import ClientContext

    cfg = raysim.parse_config({
        "seed": 3, "rounds": 1,
        "task": {"name": "feature_classification", "hidden": [16]},
        "data": {
            "source": "synthetic_features", "dim": 8, "n_train": 300, "n_test": 50,
            "partition": {"name": "dirichlet", "n_clients": 10, "alpha": 0.5},
        },
        "sampling": {"fraction": 1.0},
        "local": {"optimizer": {"name": "sgd", "lr": 0.1}, "batch_size": 16},
        "engine": {"num_workers": 1, "worker_cpus": 0.5},
        "eval": {"every": 0},
    })  # fmt: skip
    data = build_source(cfg.data, cfg.seed)
    stored = write_parquet_clients(tmp_path, data.clients, clients_per_shard=4, rows_per_group=20)
    result = raysim.Simulation(cfg, data=SourceData(stored, data.eval_data, data.info)).run(
        progress=False
    )
    assert result.federation.examples == data.clients.sample_counts().tolist()
    assert result.history[0]["reporting"] == len(data.clients)
    task = TASKS.build(cfg.task, data.info)
    torch.manual_seed(cfg.seed)
    model = task.build_model()
    x0 = get_flat(model)
    strategy = STRATEGIES.build(STRATEGIES.parse(), len(x0), len(data.clients))
    total, weights = np.zeros_like(x0, np.float64), 0.0
    for cid in range(len(data.clients)):
        ctx = ClientContext(cid, 0, cfg.seed, client_rng(cfg.seed, 0, cid))
        res = train_client(
            task, model, strategy, cfg.local, cfg.local.optimizer.lr, x0, {},
            data.clients.get(cid), None, ctx,
        )  # fmt: skip
        total += res.n_samples * (x0 + res.delta).astype(np.float64)
        weights += res.n_samples
    np.testing.assert_allclose(result.weights, total / weights, atol=1e-6)
