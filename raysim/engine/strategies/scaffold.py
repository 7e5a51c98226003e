"""SCAFFOLD (Karimireddy et al., ICML 2020), Algorithm 1.

Symbols: server control variate c (``broadcast()['c']``), client control
variate c_i (persistent client state ``'c_i'``, zero before a client's first
round), local step size η_l (the round's local lr), K local steps, global step
size η_g (``server_lr``), N the population (``population``), S the reporting clients.

Client: y ← y − η_l (g_i(y) − c_i + c) for K steps, then
  option I  (``option="I"``):  c_i⁺ = g_i(x), a full-batch gradient at x;
  option II (``option="II"``, default): c_i⁺ = c_i − c + (x − y)/(K η_l);
and sends Δy = y − x, Δc = c_i⁺ − c_i.
Server: x ← x + η_g · mean_S Δy;  c ← c + (|S|/N) · mean_S Δc.
``scale_control_by_fraction=False`` drops |S|/N (as Semi-FedSER did); the
paper's rule is the default. The paper averages Δy uniformly.
``correction="gradient"`` (default) adds c − c_i to the gradient the local optimizer
sees; ``"after_step"`` leaves the optimizer alone and moves y ← y − η_l (c − c_i)
after each of its steps, as Semi-FedSER did with Adam (an adaptive optimizer would
otherwise rescale the correction along with the gradient).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from raysim.engine.exact_sum import ExactSum
from raysim.engine.flat import add_to_grads, add_to_params
from raysim.engine.strategies.base import ClientHook, Strategy


class _ScaffoldHook(ClientHook):
    def __init__(self, c: torch.Tensor, c_i: torch.Tensor, option: str, where: str, n_params: int):
        self.c = c
        self.c_i = c_i
        self.correction = c - c_i
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


class Scaffold(Strategy):
    """Stochastic controlled averaging with persistent client control variates."""

    default_weighting = "uniform"

    def __init__(self, cfg, n_params: int, population: int):
        super().__init__(cfg, n_params, population)
        self.c = np.zeros(n_params, np.float32)

    def broadcast(self) -> dict[str, np.ndarray]:
        return {"c": self.c}

    def client_hook(self, global_vec, payload, client_state) -> ClientHook:
        c = torch.from_numpy(np.array(payload["c"], dtype=np.float32))
        if client_state and "c_i" in client_state:
            c_i = torch.from_numpy(np.array(client_state["c_i"], dtype=np.float32))
        else:
            c_i = torch.zeros(self.n_params)
        return _ScaffoldHook(c, c_i, self.cfg.option, self.cfg.correction, self.n_params)

    def pseudo_gradient(
        self, sums: dict[str, ExactSum], weight_total: float, n_reporting: int
    ) -> np.ndarray:
        mean_dc = sums["dc"].value() / n_reporting
        scale = n_reporting / self.population if self.cfg.scale_control_by_fraction else 1.0
        self.c = (self.c.astype(np.float64) + scale * mean_dc).astype(np.float32)
        return self.cfg.server_lr * super().pseudo_gradient(sums, weight_total, n_reporting)

    def state_dict(self) -> dict[str, Any]:
        return {"c": torch.from_numpy(self.c.copy())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.c = state["c"].numpy().astype(np.float32)
