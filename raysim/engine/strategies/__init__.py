"""Federated strategies, one per module; `build_strategy` picks one by config name."""

from __future__ import annotations

from raysim.config import StrategyConfig
from raysim.engine.strategies.base import ClientHook, Strategy
from raysim.engine.strategies.fedavg import FedAvg
from raysim.engine.strategies.fedprox import FedProx
from raysim.engine.strategies.scaffold import Scaffold

STRATEGIES: dict[str, type[Strategy]] = {"fedavg": FedAvg, "fedprox": FedProx, "scaffold": Scaffold}


def build_strategy(cfg: StrategyConfig, n_params: int, population: int) -> Strategy:
    """The strategy named by `cfg.name`."""
    return STRATEGIES[cfg.name](cfg, n_params, population)


__all__ = ["ClientHook", "FedAvg", "FedProx", "Scaffold", "Strategy", "build_strategy"]
