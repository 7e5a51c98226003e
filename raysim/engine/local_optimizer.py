"""The clients' local optimizer: a torch optimizer by registered name, fresh every round.

``local.optimizer.lr`` is the lr of round 1; the server's schedule
(:mod:`raysim.engine.lr_schedule`) decides each later round's and sends it with the
round, so the optimizer is made with that value, never with a stale copy.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from raysim.registry import LOCAL_OPTIMIZERS, Named


class OptimizerParams(Named):
    """A torch optimizer by name (`raysim.registry.LOCAL_OPTIMIZERS`) and its arguments."""

    lr: float = Field(0.05, gt=0, description="the first round's lr (the schedule's start)")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="momentum, betas, ...")


def make_optimizer(params: OptimizerParams, parameters: Any, lr: float) -> Any:
    """A fresh torch optimizer over `parameters` at the round's `lr` (FL convention: local
    optimizer state does not persist across rounds)."""
    cls = LOCAL_OPTIMIZERS.impl(params.name)
    try:
        return cls(parameters, lr=lr, **params.kwargs)
    except TypeError as err:
        msg = f"local.optimizer.kwargs {params.kwargs!r} for {params.name}: {err}"
        raise ValueError(msg) from None
