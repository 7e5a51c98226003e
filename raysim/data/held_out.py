"""Which data the server keeps for evaluation: one params model for every data source
(feature stores hold out groups, e.g. speakers; SE mixtures hold out speakers and
noise files), in pydantic only."""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
from pydantic import Field, model_validator

from raysim.registry import Params
from raysim.rng import FOLD_DEAL_SEED


class HeldOutParams(Params):
    """Which rows the server keeps for evaluation."""

    by: Literal["groups", "split"] = "groups"
    fraction: float = Field(
        0.25, ge=0, lt=1, description="groups: share of groups (SE: and of noise files) held out"
    )
    groups: list[str] | None = Field(None, description="groups: explicit held-out groups")
    folds: int | None = Field(
        None,
        ge=2,
        description="groups: k-fold cross-validation, as SER papers report it: the groups "
        "are dealt into `folds` folds (the same for every run seed) and fold `fold` is held "
        "out; replaces `fraction`",
    )
    fold: int = Field(0, ge=0, description="groups: which of the `folds` folds is held out")
    split_value: str = Field("test", description="split: rows whose split column equals this")

    def fold_groups(self, names: np.ndarray) -> set:
        """The groups of fold `fold` when `names` (in a fixed order) are dealt into
        `folds` folds; the deal ignores the run seed, so every run sees the same folds."""
        dealt = np.random.default_rng(FOLD_DEAL_SEED).permutation(names)
        return set(np.array_split(dealt, self.folds)[self.fold])

    @model_validator(mode="after")
    def _fold_in_range(self) -> Self:
        if self.folds is not None and self.fold >= self.folds:
            raise ValueError(f"held_out.fold={self.fold} but there are only folds={self.folds}")
        return self
