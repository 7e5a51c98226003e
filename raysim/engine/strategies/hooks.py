"""The strategies' client-side hooks: the torch part of an algorithm, run inside
the local training loop on a worker. The server-side rules (in the strategy
modules) stay numpy-only, so the aggregator never imports torch."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from raysim.engine.flat import add_to_grads, add_to_params, get_flat
from raysim.engine.strategies.base import ClientHook


def params_prefix(vec: np.ndarray, n_params: int) -> torch.Tensor:
    """The gradient-bearing part of a flat state vector, as a float32 tensor."""
    return torch.from_numpy(np.array(vec[:n_params], dtype=np.float32))


class ProximalHook(ClientHook):
    """FedProx: each local gradient gains μ(w − w_t)."""

    def __init__(self, global_vec: np.ndarray, mu: float, n_params: int):
        self.anchor = params_prefix(global_vec, n_params)
        self.mu = mu
        self.n_params = n_params

    def before_step(self, model: nn.Module) -> None:
        w = params_prefix(get_flat(model), self.n_params)
        add_to_grads(model, self.mu * (w - self.anchor))


class ScaffoldHook(ClientHook):
    """SCAFFOLD: the c − c_i correction during training, then c_i⁺ and Δc."""

    def __init__(
        self,
        c: np.ndarray,
        c_i: np.ndarray | None,
        option: str,
        where: str,
        n_params: int,
    ):
        self.c = torch.from_numpy(np.array(c, dtype=np.float32))
        self.c_i = (
            torch.zeros(n_params)
            if c_i is None
            else torch.from_numpy(np.array(c_i, dtype=np.float32))
        )
        self.correction = self.c - self.c_i
        self.option = option
        self.where = where
        self.n_params = n_params

    def before_step(self, model: nn.Module) -> None:
        if self.where == "gradient":
            add_to_grads(model, self.correction)

    def after_step(self, model: nn.Module, lr: float) -> None:
        if self.where == "after_step":
            add_to_params(model, -lr * self.correction)

    def finish(self, delta, steps, lr, full_gradient):
        if self.option == "I":
            c_new = full_gradient().double()
        else:
            dy = torch.from_numpy(np.asarray(delta[: self.n_params], dtype=np.float64))
            c_new = self.c_i.double() - self.c.double() - dy / (max(steps, 1) * lr)
        dc = c_new - self.c_i.double()
        return {"dc": dc.numpy()}, {"c_i": c_new.float().numpy()}
