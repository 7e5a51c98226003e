"""raysim: federated learning simulation for audio (SE, SER) at cluster scale on Ray.

>>> import raysim
>>> raysim.describe({"rounds": 5})  # the clients and held-out set, without training
>>> result = raysim.Simulation({"rounds": 5}).run()

The names below are imported on first use, so that `import raysim.se` or
`raysim.centralized` (torch only) does not import Ray.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from raysim.config import ConfigError, SimulationConfig, load_config, parse_config
    from raysim.federation import Federation, describe
    from raysim.simulation import Simulation, SimulationResult

_EXPORTS = {
    "ConfigError": "raysim.config",
    "SimulationConfig": "raysim.config",
    "load_config": "raysim.config",
    "parse_config": "raysim.config",
    "Federation": "raysim.federation",
    "describe": "raysim.federation",
    "Simulation": "raysim.simulation",
    "SimulationResult": "raysim.simulation",
}
__all__ = [
    "ConfigError",
    "Federation",
    "Simulation",
    "SimulationConfig",
    "SimulationResult",
    "describe",
    "load_config",
    "parse_config",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'raysim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this hook
    return value
