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

Units with an adaptive local optimizer (Adam, ...): option I's c_i is a gradient,
option II's (x − y)/(K η_l) an average *update* per unit lr (≈ sign(g) per coordinate
with a fresh Adam and few steps, whatever |g|). Under plain SGD the two coincide;
under Adam only (option I, ``"gradient"``) and (option II, ``"after_step"``) add the
correction in the units it was estimated in, and (II, ``"after_step"``) weighs a
coordinate where a client's gradient is tiny as much as one where it is large. On
clients with a few samples, Adam's coupled L2 term on weights without a data gradient
then reaches every client through c − c_i (URDU: the model collapsed to one class;
experiments/configs/semi_fedser_urdu.yaml uses option I, ``"gradient"``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from raysim.engine.exact_sum import ExactSum
from raysim.engine.strategies.base import ClientHook, Strategy, StrategyParams


class Params(StrategyParams):
    option: Literal["I", "II"] = Field("II", description="control-variate update")
    server_lr: float = Field(1.0, gt=0, description="global step size η_g")
    correction: Literal["gradient", "after_step"] = Field(
        "gradient", description="add c − c_i to the gradient, or apply it after each step"
    )
    scale_control_by_fraction: bool = Field(
        True, description="c += |S|/N mean(Δc) (paper); False: c += mean(Δc)"
    )


class Scaffold(Strategy):
    """Stochastic controlled averaging with persistent client control variates."""

    default_weighting = "uniform"

    def __init__(self, params: Params, n_params: int, population: int):
        super().__init__(params, n_params, population)
        self.c = np.zeros(n_params, np.float32)

    def broadcast(self) -> dict[str, np.ndarray]:
        return {"c": self.c}

    def client_hook(self, global_vec, payload, client_state) -> ClientHook:
        from raysim.engine.strategies.hooks import ScaffoldHook

        c_i = client_state.get("c_i") if client_state else None
        return ScaffoldHook(
            payload["c"], c_i, self.params.option, self.params.correction, self.n_params
        )

    def pseudo_gradient(
        self, sums: dict[str, ExactSum], weight_total: float, n_reporting: int
    ) -> np.ndarray:
        mean_dc = sums["dc"].value() / n_reporting
        scale = n_reporting / self.population if self.params.scale_control_by_fraction else 1.0
        self.c = (self.c.astype(np.float64) + scale * mean_dc).astype(np.float32)
        return self.params.server_lr * super().pseudo_gradient(sums, weight_total, n_reporting)

    def state_dict(self) -> dict[str, Any]:
        return {"c": self.c.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.c = np.asarray(state["c"], dtype=np.float32)
