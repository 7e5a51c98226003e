"""Data sources: each turns its params into client data, server eval data and the
info a task needs (input dimension, number of classes).

Every source is registered in `raysim.registry.DATA_SOURCES` as a params model
(a :class:`SourceParams`, validated on the driver) and a ``(params, seed) ->
SourceData`` builder, imported where it runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
from pydantic import Field

from raysim.data.clients import ArrayClients, ClientData
from raysim.registry import DATA_SOURCES, PARTITIONERS, Params
from raysim.rng import Stream, stream


@dataclass
class SourceData:
    """Everything a simulation needs from its data."""

    clients: ClientData
    eval_data: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)


class SourceParams(Params):
    """What every data source's params hold: the registered name, and the hook a
    sweep calls once before its trials."""

    source: str
    #: keys that :meth:`prepare` consumes, so a sweep cannot vary them per trial
    prepared_keys: ClassVar[tuple[str, ...]] = ()

    def prepare(self) -> SourceParams:
        """The params trials on any node run with: shared data built once, here, and
        paths made absolute (trials run in their own directories). Default: unchanged."""
        return self

    def input_problems(self) -> list[tuple[str, str]]:
        """What keeps the inputs these params name from loading (a missing file or
        folder...), as ``(key below data, message naming the value)`` pairs; checked
        before Ray starts (`raysim.input_checks`) and cheap: nothing is read. Default:
        none."""
        return []


def path_problem(
    value: str, kind: Literal["file", "folder"], what: str, *, expand_vars: bool = False
) -> str | None:
    """Why `value` (``~`` expanded, and ``$VARS`` with `expand_vars`, as its loader
    does) is not an existing `kind`: a message naming the path and saying what it should
    be (`what`); None if it is one."""
    path = Path(os.path.expanduser(value))
    if expand_vars:
        path = Path(os.path.expandvars(path))
        if "$" in str(path):
            return f"{value!r} names an unset environment variable ({what})"
    where = "" if path.is_absolute() else f" in {Path.cwd()}"
    if not path.exists():
        return f"{path} does not exist{where} ({what})"
    if kind == "file" and not path.is_file():
        return f"{path} is not a file ({what})"
    if kind == "folder" and not path.is_dir():
        return f"{path} is not a folder ({what})"
    return None


class PathSourceParams(SourceParams):
    """A source read from one file or folder at ``path``."""

    #: what `path` must be, for the check before a run
    path_kind: ClassVar[Literal["file", "folder"]] = "file"
    #: what `path` should hold, for messages
    path_hint: ClassVar[str] = "the source's data file"
    path: str

    def prepare(self) -> Self:
        return self.model_copy(update={"path": str(Path(self.path).expanduser().resolve())})

    def input_problems(self) -> list[tuple[str, str]]:
        problem = path_problem(self.path, self.path_kind, self.path_hint)
        return [("path", problem)] if problem else []


def build_source(params: SourceParams, seed: int) -> SourceData:
    """Build the data `params` name (validated by the config)."""
    return DATA_SOURCES.build(params, seed)


class SyntheticFeaturesParams(SourceParams):
    """Gaussian class clusters in feature space (a fast stand-in for acoustic features)."""

    num_classes: int = Field(4, ge=2)
    dim: int = Field(32, ge=1)
    n_train: int = Field(4000, ge=1)
    n_test: int = Field(1000, ge=1)
    separation: float = Field(0.5, gt=0, description="scale of the class means")
    partition: PARTITIONERS.type = PARTITIONERS.field()


def synthetic_features(params: SyntheticFeaturesParams, seed: int) -> SourceData:
    """Class means ~ N(0, sep²), unit-variance samples; labels uniform."""
    rng = stream(seed, Stream.SYNTHETIC_FEATURES)
    means = rng.normal(0.0, params.separation, (params.num_classes, params.dim))

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, params.num_classes, n)
        return (means[y] + rng.standard_normal((n, params.dim))).astype(np.float32), y.astype(
            np.int64
        )

    x, y = sample(params.n_train)
    x_test, y_test = sample(params.n_test)
    part = PARTITIONERS.build(params.partition, y, seed)
    return SourceData(
        ArrayClients.from_partition({"x": x, "y": y}, part.indices),
        {"x": x_test, "y": y_test},
        {"input_dim": params.dim, "num_classes": params.num_classes},
    )


class NpzParams(PathSourceParams):
    """Arrays in the WORKLOADS.md file form: X, y, offsets, X_test, y_test."""

    path_hint: ClassVar[str] = "an .npz file with X, y, offsets, X_test, y_test"


def npz(params: NpzParams, seed: int) -> SourceData:
    """Clients and test set from an .npz file (client c owns rows offsets[c]:offsets[c+1])."""
    path = Path(params.path).expanduser()
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
