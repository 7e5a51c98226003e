"""Server optimizers applied to the pseudo-gradient Δ_t (Reddi et al., ICLR 2021).

Δ_t is the strategy's aggregate (for FedAvg the weighted mean of x_i − x_t).
  none (FedAvg):   x ← x + Δ_t
  avgm (FedAvgM):  m ← β m + Δ_t;            x ← x + η m
  adagrad:         m ← β₁m + (1−β₁)Δ;  v ← v + Δ²
  adam:            m as above;  v ← β₂ v + (1−β₂) Δ²
  yogi:            m as above;  v ← v − (1−β₂) Δ² sign(v − Δ²)
  FedOpt update:   x ← x + η m / (√v + τ)   (no bias correction, as in the paper)
Defaults β₁ 0.9, β₂ 0.99, τ 1e-3, η 1e-2 (METHODS.md). State is float64 so the
update is the same whatever the order clients arrived in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from raysim.registry import Named


class Params(Named):
    """``none``: the pseudo-gradient is applied as it is."""


class AvgMParams(Params):
    lr: float = Field(1e-2, gt=0, description="η")
    momentum: float = Field(0.9, ge=0, lt=1, description="β")


class FedOptParams(Params):
    lr: float = Field(1e-2, gt=0, description="η")
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.99, ge=0, lt=1, description="adam, yogi")
    tau: float = Field(1e-3, gt=0, description="τ, adaptivity")


class ServerOptimizer:
    """Plain FedAvg application: x ← x + Δ_t."""

    def __init__(self, params: Params, size: int):
        self.params = params
        self.size = size

    def step(self, x: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """The new global state (float32) from x and the pseudo-gradient Δ_t."""
        return (x.astype(np.float64) + delta).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict() returned."""


class FedAvgM(ServerOptimizer):
    """Server momentum (Hsu et al. 2019): m ← β m + Δ_t; x ← x + η m."""

    params: AvgMParams

    def __init__(self, params: AvgMParams, size: int):
        super().__init__(params, size)
        self.m = np.zeros(size, np.float64)

    def step(self, x, delta):
        self.m = self.params.momentum * self.m + delta
        return (x.astype(np.float64) + self.params.lr * self.m).astype(np.float32)

    def state_dict(self):
        return {"m": self.m.copy()}

    def load_state_dict(self, state):
        self.m = np.asarray(state["m"], dtype=np.float64)


class _FedOpt(ServerOptimizer):
    """Shared first moment and update of FedAdagrad, FedAdam and FedYogi."""

    params: FedOptParams

    def __init__(self, params: FedOptParams, size: int):
        super().__init__(params, size)
        self.m = np.zeros(size, np.float64)
        # v starts at τ² as in Reddi et al.'s Algorithm 2 (v_{-1} ≥ τ²)
        self.v = np.full(size, params.tau**2, np.float64)

    def second_moment(self, delta_sq: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def step(self, x, delta):
        c = self.params
        self.m = c.beta1 * self.m + (1 - c.beta1) * delta
        self.v = self.second_moment(delta * delta)
        return (x.astype(np.float64) + c.lr * self.m / (np.sqrt(self.v) + c.tau)).astype(np.float32)

    def state_dict(self):
        return {"m": self.m.copy(), "v": self.v.copy()}

    def load_state_dict(self, state):
        self.m = np.asarray(state["m"], dtype=np.float64)
        self.v = np.asarray(state["v"], dtype=np.float64)


class FedAdagrad(_FedOpt):
    """v ← v + Δ²."""

    def second_moment(self, delta_sq):
        return self.v + delta_sq


class FedAdam(_FedOpt):
    """v ← β₂ v + (1 − β₂) Δ²."""

    def second_moment(self, delta_sq):
        return self.params.beta2 * self.v + (1 - self.params.beta2) * delta_sq


class FedYogi(_FedOpt):
    """v ← v − (1 − β₂) Δ² sign(v − Δ²)."""

    def second_moment(self, delta_sq):
        return self.v - (1 - self.params.beta2) * delta_sq * np.sign(self.v - delta_sq)
