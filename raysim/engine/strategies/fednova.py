"""FedNova (Wang et al., "Tackling the objective inconsistency problem in heterogeneous
federated optimization", NeurIPS 2020), with plain local SGD.

Clients that take more local steps move further, so FedAvg's mean drifts towards
the objectives of the busiest clients. FedNova averages *normalised* updates: with
client i's τ_i local steps and weight p_i (sample share by default),

    d_i = Δ_i / τ_i,        τ_eff = Σ_i p_i τ_i,        Δ_t = τ_eff Σ_i p_i d_i,

where Δ_i = x_i − x. With equal τ_i this is FedAvg's Δ_t exactly. τ_i is the
normaliser a_i of plain SGD (‖a_i‖₁ = τ_i); momentum or adaptive local optimizers
would need the paper's other a_i.
"""

from __future__ import annotations

import numpy as np

from raysim.engine.exact_sum import ExactSum
from raysim.engine.strategies.base import ClientHook, Strategy, StrategyParams


class Params(StrategyParams):
    """FedNova has no parameters beyond the weighting (p_i)."""


class _NormalisedUpdate(ClientHook):
    def finish(self, delta, steps, lr, full_gradient):
        # the worker weights these by p_i, as it does the delta
        return {
            "delta_per_step": delta.astype(np.float64) / steps,
            "steps": np.array([steps]),
        }, None


class FedNova(Strategy):
    """Normalised averaging: each client's update counts per local step."""

    weighted_extras = ("delta_per_step", "steps")

    def client_hook(self, global_vec, payload, client_state) -> ClientHook:
        return _NormalisedUpdate()

    def pseudo_gradient(
        self, sums: dict[str, ExactSum], weight_total: float, n_reporting: int
    ) -> np.ndarray:
        tau_eff = float(sums["steps"].value()[0]) / weight_total
        return tau_eff * sums["delta_per_step"].value() / weight_total
