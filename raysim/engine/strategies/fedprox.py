"""FedProx (Li et al., MLSys 2020).

Local objective F_k(w) + (μ/2)‖w − w_t‖²: each local gradient gains μ(w − w_t),
where w_t is the global model the round started from. ``mu`` is μ.
Aggregation is FedAvg's.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from raysim.engine.strategies.base import ClientHook, Strategy, StrategyParams


class Params(StrategyParams):
    mu: float = Field(0.01, ge=0, description="proximal weight μ")


class FedProx(Strategy):
    """FedAvg with a proximal term pulling local models towards the global one."""

    def client_hook(self, global_vec: np.ndarray, payload, client_state) -> ClientHook:
        if self.params.mu == 0:
            return ClientHook()
        from raysim.engine.strategies.hooks import ProximalHook

        return ProximalHook(global_vec, self.params.mu, self.n_params)
