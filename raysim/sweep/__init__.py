"""Ray Tune sweeps of federated simulations: one trial = one simulation in its placement group.

>>> from raysim.sweep import load_sweep, run_sweep
>>> sweep = load_sweep("experiments/configs/sweep_default.yaml")
>>> run = run_sweep(sweep, "results/sweeps/demo")
"""

from raysim.sweep.runner import SweepRun, experiment_path, run_sweep, saved_sweep
from raysim.sweep.spec import Sweep, SweepSpec, load_sweep, parse_sweep

__all__ = [
    "Sweep",
    "SweepRun",
    "SweepSpec",
    "experiment_path",
    "load_sweep",
    "parse_sweep",
    "run_sweep",
    "saved_sweep",
]
