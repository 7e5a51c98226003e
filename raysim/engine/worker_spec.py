"""What a worker actor is built from: one typed object, made once on the driver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ray import ObjectRef

from raysim.config import LocalConfig
from raysim.engine.strategies.base import StrategyParams
from raysim.registry import Named


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to train and evaluate any client of the population.

    The params are the config's validated objects; `clients` is the population's
    data in the object store (one object, read by every worker once).
    """

    task: Named
    info: dict[str, Any]  # what the data tells the task: dims, classes, sample rate...
    local: LocalConfig
    strategy: StrategyParams
    clients: ObjectRef
    seed: int
    torch_threads: int = 1
    #: the run's privacy plan (`raysim.privacy.PrivacyPlan.summary()`), None without DP
    privacy: dict[str, Any] | None = None
