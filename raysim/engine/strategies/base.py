"""The strategy interface: what a client does besides plain local SGD, and how the
server turns the summed client contributions into a pseudo-gradient.

A strategy never decides how clients execute (that is the worker pool's job):
the same class runs in one process or across a cluster. Strategies are numpy-only
(the aggregator runs them without torch); their torch-side client hooks live in
:mod:`raysim.engine.strategies.hooks`, imported when a worker asks for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from raysim.engine.exact_sum import ExactSum
from raysim.registry import Named

if TYPE_CHECKING:
    from torch import nn


class ClientHook:
    """Per-client, per-round strategy logic running inside the local training loop."""

    def before_step(self, model: nn.Module) -> None:
        """Adjust gradients after backward() and before the optimizer step."""

    def after_step(self, model: nn.Module, lr: float) -> None:
        """Adjust parameters right after the optimizer step (`lr` is the round's local lr)."""

    def finish(
        self, delta: np.ndarray, steps: int, lr: float, full_gradient
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
        """After local training: (extra vectors to sum over clients, new client state or None).

        `delta` is y - x over the whole flat state; `full_gradient()` returns the
        client's full-batch gradient at the global weights (SCAFFOLD option I).
        """
        return {}, None


class StrategyParams(Named):
    """What every strategy's params hold (each strategy module subclasses it as `Params`)."""

    weighting: Literal["samples", "uniform"] | None = Field(
        None, description="aggregation weights; default: the paper's (see the strategy)"
    )


class Strategy:
    """One federated algorithm: client hook + server aggregation rule."""

    #: weighting used when the config leaves it unset (the paper's choice)
    default_weighting = "samples"
    #: hook extras the worker multiplies by the client's weight before summing (the
    #: others are summed as they come)
    weighted_extras: tuple[str, ...] = ()

    def __init__(self, params: StrategyParams, n_params: int, population: int):
        self.params = params
        self.n_params = n_params
        self.population = population
        self.weighting = params.weighting or self.default_weighting

    def client_weight(self, n_samples: int) -> float:
        """Aggregation weight of a client that trained on `n_samples` samples."""
        return float(n_samples) if self.weighting == "samples" else 1.0

    def broadcast(self) -> dict[str, np.ndarray]:
        """Server state every sampled client receives with the global model."""
        return {}

    def client_hook(
        self,
        global_vec: np.ndarray,
        payload: dict[str, np.ndarray],
        client_state: dict[str, np.ndarray] | None,
    ) -> ClientHook:
        """The hook for one client's local training in this round."""
        return ClientHook()

    def pseudo_gradient(
        self, sums: dict[str, ExactSum], weight_total: float, n_reporting: int
    ) -> np.ndarray:
        """Aggregate the clients' summed contributions into Δ_t (float64), updating
        any server-side state. The base rule is the weighted mean of the deltas:
        `sums["delta"]` holds Σ w_i Δ_i and `weight_total` Σ w_i."""
        return sums["delta"].value() / weight_total

    def state_dict(self) -> dict[str, Any]:
        """Server-side strategy state for checkpoints (arrays and plain values only)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict() returned."""
