"""Non-IID partitioners: seeded, each returns client → indices plus a summary.

IID, Dirichlet(α) over labels, by group (one client per speaker, or per group
of speakers), quantity skew (client sizes ~ Dirichlet(α), labels IID), and
Semi-FedSER's split of every speaker into k class-skewed clients.

Each is registered in `raysim.registry.PARTITIONERS` as a params model and a
``partition_*(params, labels, seed, groups)`` function, which data sources call
through the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field

from raysim.data.errors import DataConfigError
from raysim.registry import Named
from raysim.rng import Stream, stream


@dataclass
class Partition:
    """Client c owns dataset rows `indices[c]` (in their stored, shuffled order)."""

    indices: list[np.ndarray]
    labels: np.ndarray | None = None

    @property
    def n_clients(self) -> int:
        return len(self.indices)

    def counts(self) -> np.ndarray:
        """Samples per client."""
        return np.array([len(ix) for ix in self.indices], dtype=np.int64)

    def label_histograms(self, num_classes: int | None = None) -> np.ndarray:
        """(n_clients, num_classes) label counts."""
        if self.labels is None:
            raise ValueError("this partition was built without labels")
        k = num_classes or int(self.labels.max()) + 1
        return np.stack([np.bincount(self.labels[ix], minlength=k) for ix in self.indices])

    def summary(self, num_classes: int | None = None) -> dict:
        """Per-client counts and label histograms, as plain lists."""
        out = {"n_clients": self.n_clients, "counts": self.counts().tolist()}
        if self.labels is not None:
            out["label_histograms"] = self.label_histograms(num_classes).tolist()
        return out


def _rng(seed: int, partitioner: int) -> np.random.Generator:
    return stream(seed, Stream.PARTITION, partitioner)


def _check_n_clients(n_clients: int, n_items: int, what: str) -> None:
    if n_clients < 1:
        raise ValueError(f"n_clients must be >= 1 (got {n_clients})")
    if n_clients > n_items:
        raise DataConfigError(f"n_clients={n_clients} exceeds the number of {what} ({n_items})")


def _fill_empty(parts: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Give each empty client one sample from the currently largest client."""
    for c in range(len(parts)):
        if len(parts[c]) == 0:
            big = int(np.argmax([len(p) for p in parts]))
            parts[c], parts[big] = parts[big][:1], parts[big][1:]
    return [rng.permutation(p) for p in parts]


def iid(
    n_items: int,
    n_clients: int,
    seed: int = 0,
    labels: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> Partition:
    """Uniformly shuffled, near-equal split (drawn from `rng`, default the seed's own
    partition stream)."""
    _check_n_clients(n_clients, n_items, "samples")
    perm = (rng or _rng(seed, 1)).permutation(n_items)
    return Partition([np.sort(p) for p in np.array_split(perm, n_clients)], labels)


def dirichlet(labels: np.ndarray, n_clients: int, alpha: float, seed: int = 0) -> Partition:
    """Label skew: for each class, its samples split over clients by p ~ Dir(α·1).

    Small α gives clients few classes (α=0.1 is strongly non-IID); an empty
    client receives one sample from the largest client.
    """
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0 (got {alpha})")
    labels = np.asarray(labels)
    _check_n_clients(n_clients, len(labels), "samples")
    rng = _rng(seed, 2)
    parts: list[list[np.ndarray]] = [[] for _ in range(n_clients)]
    for k in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == k))
        p = rng.dirichlet(np.full(n_clients, alpha))
        cuts = np.floor(np.cumsum(p)[:-1] * len(idx)).astype(int)
        for c, piece in enumerate(np.split(idx, cuts)):
            parts[c].append(piece)
    merged = [np.concatenate(p) if p else np.zeros(0, np.int64) for p in parts]
    return Partition(_fill_empty(merged, rng), labels)


def by_group(
    groups: np.ndarray, groups_per_client: int = 1, seed: int = 0, labels: np.ndarray | None = None
) -> Partition:
    """One client per group (e.g. speaker), or per `groups_per_client` groups.

    Groups are taken in sorted order and split contiguously, so with several
    groups per client the assignment is FedEnhance's contiguous speaker groups.
    """
    groups = np.asarray(groups)
    names = np.unique(groups)
    if groups_per_client < 1:
        raise ValueError(f"groups_per_client must be >= 1 (got {groups_per_client})")
    rng = _rng(seed, 3)
    chunks = [names[i : i + groups_per_client] for i in range(0, len(names), groups_per_client)]
    return Partition(
        [rng.permutation(np.flatnonzero(np.isin(groups, ch))) for ch in chunks], labels
    )


def contiguous_groups(
    groups: np.ndarray, n_clients: int, labels: np.ndarray | None = None
) -> Partition:
    """The sorted groups split into `n_clients` contiguous runs of near-equal length
    (FedEnhance's speaker groups); each client's rows in stored order. No randomness."""
    groups = np.asarray(groups)
    names = np.unique(groups)
    _check_n_clients(n_clients, len(names), "groups")
    runs = np.array_split(names, n_clients)
    return Partition([np.flatnonzero(np.isin(groups, run)) for run in runs], labels)


def quantity_skew(
    n_items: int, n_clients: int, alpha: float, seed: int = 0, labels: np.ndarray | None = None
) -> Partition:
    """Client sizes ~ Dir(α·1) of the total (each client at least one sample), labels IID."""
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0 (got {alpha})")
    _check_n_clients(n_clients, n_items, "samples")
    rng = _rng(seed, 4)
    perm = rng.permutation(n_items)
    sizes = 1 + np.floor(rng.dirichlet(np.full(n_clients, alpha)) * (n_items - n_clients)).astype(
        int
    )
    sizes[np.argmax(sizes)] += n_items - sizes.sum()
    return Partition(list(np.split(perm, np.cumsum(sizes)[:-1])), labels)


def semi_fedser(labels: np.ndarray, groups: np.ndarray, k: int = 4, seed: int = 0) -> Partition:
    """Semi-FedSER's partition (Feng & Narayanan, Interspeech 2022): each speaker
    (group) becomes `k` clients; client j lacks class j and holds an even share of
    each other class (about 1/3 with k = 4 classes).

    Class c of a speaker is shuffled and split evenly over the speaker's clients
    j ≠ c (all k clients for classes c ≥ k), the larger shares going to a seeded
    choice of clients. Clients are ordered by speaker, then j; clients left empty
    (a speaker with a single class leaves that class's client empty) are dropped.
    """
    if k < 2:
        raise ValueError(f"k must be >= 2 (got {k})")
    labels, groups = np.asarray(labels), np.asarray(groups)
    if labels.shape != groups.shape:
        raise ValueError(f"labels {labels.shape} and groups {groups.shape} differ in shape")
    rng = _rng(seed, 5)
    parts: list[np.ndarray] = []
    for g in np.unique(groups):
        own: list[list[np.ndarray]] = [[] for _ in range(k)]
        for c in np.unique(labels[groups == g]):
            idx = rng.permutation(np.flatnonzero((groups == g) & (labels == c)))
            holders = [j for j in range(k) if j != c]
            for j, piece in zip(
                rng.permutation(holders), np.array_split(idx, len(holders)), strict=True
            ):
                own[j].append(piece)
        parts += [rng.permutation(np.concatenate(p)) for p in own if p]
    return Partition([p for p in parts if len(p)], labels)


# -- registered form: params + one calling convention ----------------------------------
class IIDParams(Named):
    n_clients: int = Field(100, ge=1)


class DirichletParams(Named):
    n_clients: int = Field(100, ge=1)
    alpha: float = Field(0.5, gt=0, description="concentration: small is strongly non-IID")


class GroupParams(Named):
    groups_per_client: int = Field(1, ge=1, description="consecutive sorted groups per client")
    n_clients: int | None = Field(
        None, ge=1, description="instead: the sorted groups in this many contiguous runs"
    )


class QuantitySkewParams(Named):
    n_clients: int = Field(100, ge=1)
    alpha: float = Field(0.5, gt=0, description="client sizes ~ Dir(α)")


class SemiFedSERParams(Named):
    k: int = Field(4, ge=2, description="clients per speaker; client j lacks class j")


def _need_groups(params: Named, groups: np.ndarray | None) -> np.ndarray:
    if groups is None:
        raise DataConfigError(f"data.partition.name={params.name!r} needs groups (e.g. speakers)")
    return groups


def partition_iid(p: IIDParams, labels: np.ndarray, seed: int, groups=None, rng=None):
    return iid(len(labels), p.n_clients, seed, labels, rng)


def partition_dirichlet(p: DirichletParams, labels: np.ndarray, seed: int, groups=None):
    return dirichlet(labels, p.n_clients, p.alpha, seed)


def partition_by_group(p: GroupParams, labels: np.ndarray, seed: int, groups=None) -> Partition:
    groups = _need_groups(p, groups)
    if p.n_clients is not None:
        n_groups = len(np.unique(groups))
        if p.n_clients > n_groups:
            raise DataConfigError(
                f"data.partition.n_clients: n_clients={p.n_clients} exceeds the number of "
                f"groups (speakers) in the training data ({n_groups})"
            )
        return contiguous_groups(groups, p.n_clients, labels)
    return by_group(groups, p.groups_per_client, seed, labels)


def partition_quantity_skew(p: QuantitySkewParams, labels: np.ndarray, seed: int, groups=None):
    return quantity_skew(len(labels), p.n_clients, p.alpha, seed, labels)


def partition_semi_fedser(p: SemiFedSERParams, labels: np.ndarray, seed: int, groups=None):
    return semi_fedser(labels, _need_groups(p, groups), p.k, seed)
