"""Named data sources: each turns its config into client data, server eval data
and the info a task needs (input dimension, number of classes).

The registry mirrors the task registry: light params models validated on the
driver, builders imported where they run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from raysim.data.clients import ArrayClients, ClientData
from raysim.data.partition import Partition, by_group, dirichlet, iid, quantity_skew, semi_fedser
from raysim.registry import Registry


@dataclass
class SourceData:
    """Everything a simulation needs from its data."""

    clients: ClientData
    eval_data: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)


class PartitionParams(BaseModel):
    """How samples are split into clients."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["iid", "dirichlet", "group", "quantity_skew", "semi_fedser"] = "dirichlet"
    n_clients: int = Field(100, ge=1, description="iid, dirichlet, quantity_skew")
    alpha: float = Field(0.5, gt=0, description="dirichlet, quantity_skew")
    group_key: str = Field("speaker", description="group: the column that defines groups")
    groups_per_client: int = Field(1, ge=1, description="group")
    k: int = Field(4, ge=2, description="semi_fedser: clients per speaker, client j lacks class j")


def make_partition(
    params: PartitionParams, labels: np.ndarray, seed: int, groups: np.ndarray | None = None
) -> Partition:
    """Apply the configured partitioner."""
    if params.name == "iid":
        return iid(len(labels), params.n_clients, seed, labels)
    if params.name == "dirichlet":
        return dirichlet(labels, params.n_clients, params.alpha, seed)
    if params.name == "quantity_skew":
        return quantity_skew(len(labels), params.n_clients, params.alpha, seed, labels)
    if groups is None:
        raise ValueError(f"data.partition.name={params.name!r} needs a {params.group_key!r} column")
    if params.name == "semi_fedser":
        return semi_fedser(labels, groups, params.k, seed)
    return by_group(groups, params.groups_per_client, seed, labels)


class SyntheticFeaturesParams(BaseModel):
    """Gaussian class clusters in feature space (a fast stand-in for acoustic features)."""

    model_config = ConfigDict(extra="forbid")
    num_classes: int = Field(4, ge=2)
    dim: int = Field(32, ge=1)
    n_train: int = Field(4000, ge=1)
    n_test: int = Field(1000, ge=1)
    separation: float = Field(0.5, gt=0, description="scale of the class means")
    partition: PartitionParams = Field(default_factory=PartitionParams)


def synthetic_features(params: SyntheticFeaturesParams, seed: int) -> SourceData:
    """Class means ~ N(0, sep²), unit-variance samples; labels uniform."""
    rng = np.random.default_rng([seed, 0x5F])
    means = rng.normal(0.0, params.separation, (params.num_classes, params.dim))

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, params.num_classes, n)
        return (means[y] + rng.standard_normal((n, params.dim))).astype(np.float32), y.astype(
            np.int64
        )

    x, y = sample(params.n_train)
    x_test, y_test = sample(params.n_test)
    part = make_partition(params.partition, y, seed)
    return SourceData(
        ArrayClients.from_partition({"x": x, "y": y}, part.indices),
        {"x": x_test, "y": y_test},
        {"input_dim": params.dim, "num_classes": params.num_classes},
    )


class NpzParams(BaseModel):
    """Arrays in the WORKLOADS.md file form: X, y, offsets, X_test, y_test."""

    model_config = ConfigDict(extra="forbid")
    path: str


def npz(params: NpzParams, seed: int) -> SourceData:
    """Clients and test set from an .npz file (client c owns rows offsets[c]:offsets[c+1])."""
    path = Path(params.path)
    if not path.is_file():
        raise FileNotFoundError(f"data.path: no such file {path}")
    with np.load(path) as f:
        missing = {"X", "y", "offsets", "X_test", "y_test"} - set(f.files)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)}")
        x, y, offsets = f["X"].astype(np.float32), f["y"].astype(np.int64), f["offsets"]
        x_test, y_test = f["X_test"].astype(np.float32), f["y_test"].astype(np.int64)
    for name, arr in (("X", x), ("X_test", x_test)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{path}: array {name} contains NaN or inf")
    num_classes = int(max(y.max(), y_test.max())) + 1
    return SourceData(
        ArrayClients({"x": x, "y": y}, offsets),
        {"x": x_test, "y": y_test},
        {"input_dim": x.shape[1], "num_classes": num_classes},
    )


SOURCES = Registry(
    "data",
    "source",
    {
        "synthetic_features": (
            "raysim.data.sources:SyntheticFeaturesParams",
            "raysim.data.sources:synthetic_features",
        ),
        "npz": ("raysim.data.sources:NpzParams", "raysim.data.sources:npz"),
        "feature_store": (
            "raysim.data.feature_sources:FeatureStoreParams",
            "raysim.data.feature_sources:feature_store",
        ),
        "procedural_ser": (
            "raysim.data.feature_sources:ProceduralSERParams",
            "raysim.data.feature_sources:procedural_ser",
        ),
        "se_mixtures": (
            "raysim.data.se_sources:SEMixturesParams",
            "raysim.data.se_sources:se_mixtures",
        ),
        "npz_w2": ("raysim.data.se_sources:NpzW2Params", "raysim.data.se_sources:npz_w2"),
    },
)


def build_source(name: str, params: dict[str, Any], seed: int) -> SourceData:
    """Build the named source from its (validated) params."""
    return SOURCES.build(name, params, seed)
