"""FedProx (Li et al., MLSys 2020).

Local objective F_k(w) + (μ/2)‖w − w_t‖²: each local gradient gains μ(w − w_t),
where w_t is the global model the round started from. ``mu`` is μ.
Aggregation is FedAvg's.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from raysim.engine.flat import add_to_grads, get_flat
from raysim.engine.strategies.base import ClientHook, Strategy, params_prefix


class _ProximalHook(ClientHook):
    def __init__(self, anchor, mu: float, n_params: int):
        self.anchor = anchor
        self.mu = mu
        self.n_params = n_params

    def before_step(self, model: nn.Module) -> None:
        w = params_prefix(get_flat(model), self.n_params)
        add_to_grads(model, self.mu * (w - self.anchor))


class FedProx(Strategy):
    """FedAvg with a proximal term pulling local models towards the global one."""

    def client_hook(self, global_vec: np.ndarray, payload, client_state) -> ClientHook:
        if self.cfg.mu == 0:
            return ClientHook()
        return _ProximalHook(params_prefix(global_vec, self.n_params), self.cfg.mu, self.n_params)
