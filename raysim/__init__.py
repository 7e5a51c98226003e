"""raysim: federated learning simulation for audio (SE, SER) at cluster scale on Ray.

>>> import raysim
>>> result = raysim.Simulation({"rounds": 5}).run()
"""

from raysim.config import ConfigError, SimulationConfig, load_config, parse_config
from raysim.simulation import Simulation, SimulationResult

__all__ = [
    "ConfigError",
    "Simulation",
    "SimulationConfig",
    "SimulationResult",
    "load_config",
    "parse_config",
]
__version__ = "0.1.0"
