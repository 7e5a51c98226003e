"""FedAvg (McMahan et al., AISTATS 2017).

x ← Σ_i w_i x_i / Σ_i w_i over the clients that reported, with w_i the client's
sample count (``weighting="samples"``) or 1 (``"uniform"``, as FedEnhance used).
Equivalently Δ_t = Σ_i w_i (x_i − x) / Σ_i w_i, which the server optimizer applies.
"""

from __future__ import annotations

from raysim.engine.strategies.base import Strategy, StrategyParams


class Params(StrategyParams):
    """FedAvg has no parameters beyond the weighting."""


class FedAvg(Strategy):
    """Plain local training; weighted mean of the client models."""
