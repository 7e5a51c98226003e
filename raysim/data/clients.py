"""Client data sources: a client is an id whose data a worker can fetch on demand.

A source is shipped to every worker once (one object-store object read by
all); per round only client ids travel. Sources never hold per-client Python
objects, so memory does not grow with the population beyond its arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np


class ClientData(Protocol):
    """What the engine needs from a population of clients."""

    def __len__(self) -> int:
        """Number of clients (the population N)."""

    def num_samples(self, client_id: int) -> int:
        """Training samples of a client (FedAvg weight, work balancing)."""

    def get(self, client_id: int) -> dict[str, np.ndarray]:
        """The client's arrays (e.g. `x`, `y`), all with the same first dimension."""


class ArrayClients:
    """All clients' rows concatenated in client order; client c owns rows
    offsets[c]:offsets[c+1] of every array (the WORKLOADS.md file form)."""

    def __init__(self, arrays: dict[str, np.ndarray], offsets: np.ndarray):
        offsets = np.asarray(offsets, dtype=np.int64)
        if offsets.ndim != 1 or len(offsets) < 2 or offsets[0] != 0 or np.any(np.diff(offsets) < 0):
            raise ValueError("offsets must start at 0 and be non-decreasing")
        for name, arr in arrays.items():
            if len(arr) != offsets[-1]:
                raise ValueError(
                    f"array {name!r} has {len(arr)} rows, offsets end at {offsets[-1]}"
                )
        self.arrays = arrays
        self.offsets = offsets

    @classmethod
    def from_partition(
        cls, arrays: dict[str, np.ndarray], indices: list[np.ndarray]
    ) -> ArrayClients:
        """Gather rows client by client (client c gets rows `indices[c]`, in that order)."""
        order = np.concatenate(indices) if indices else np.zeros(0, np.int64)
        offsets = np.concatenate([[0], np.cumsum([len(ix) for ix in indices])])
        return cls({k: np.ascontiguousarray(v[order]) for k, v in arrays.items()}, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def num_samples(self, client_id: int) -> int:
        return int(self.offsets[client_id + 1] - self.offsets[client_id])

    def sample_counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def get(self, client_id: int) -> dict[str, np.ndarray]:
        lo, hi = self.offsets[client_id], self.offsets[client_id + 1]
        return {k: v[lo:hi] for k, v in self.arrays.items()}


class GeneratedClients:
    """Clients whose data is generated on demand from their id (nothing is stored)."""

    def __init__(
        self,
        n_clients: int,
        make: Callable[[int], dict[str, np.ndarray]],
        samples_per_client: int | Callable[[int], int],
    ):
        self.n_clients = n_clients
        self.make = make
        self.samples_per_client = samples_per_client

    def __len__(self) -> int:
        return self.n_clients

    def num_samples(self, client_id: int) -> int:
        s = self.samples_per_client
        return s(client_id) if callable(s) else int(s)

    def sample_counts(self) -> np.ndarray:
        if callable(self.samples_per_client):
            return _counts_one_by_one(self)
        return np.full(self.n_clients, int(self.samples_per_client), np.int64)

    def get(self, client_id: int) -> dict[str, np.ndarray]:
        if not 0 <= client_id < self.n_clients:
            raise IndexError(f"client {client_id} outside 0..{self.n_clients - 1}")
        return self.make(client_id)


def sample_counts(clients: ClientData) -> np.ndarray:
    """Every client's sample count (indexed by client id), without their data.

    This is all the aggregator needs of a population (aggregation weights, work
    balancing), so it never holds the data, nor the code that makes it. The counts come
    in the smallest unsigned integer dtype that holds them (:func:`compact_counts`):
    the driver and the aggregator each keep a copy, one byte a client for clients of
    up to 255 samples. Read single counts with ``int()``; arithmetic on the array
    itself would stay in that dtype.
    """
    counts = getattr(clients, "sample_counts", None)
    return compact_counts(counts() if counts is not None else _counts_one_by_one(clients))


def compact_counts(counts: np.ndarray) -> np.ndarray:
    """Non-negative integer `counts` in the smallest unsigned dtype that holds them
    (unchanged if already in it)."""
    counts = np.asarray(counts)
    if counts.size and int(counts.min()) < 0:
        raise ValueError("sample counts cannot be negative")
    top = int(counts.max()) if counts.size else 0
    return counts.astype(np.min_scalar_type(top), copy=False)


def _counts_one_by_one(clients: ClientData) -> np.ndarray:
    n = len(clients)
    return np.fromiter((clients.num_samples(c) for c in range(n)), np.int64, n)
