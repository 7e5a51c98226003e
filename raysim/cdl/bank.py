"""The specialist bank: one federated model per group of clients, and a generalist.

Every model is a `raysim.Simulation` on its group's clients (`subset_clients`), with
the same task, model size and training settings. Each is one Ray Tune trial, placed as
the sweep's trials are (`raysim.sweep.trainable.placement`: a driver bundle and one
bundle per engine worker), so Tune runs as many side by side as the machine or the
cluster holds (`concurrent` caps them). The mixtures are built once by the driver and
reach the trials through the object store; a trial hands its final weights back in its
last checkpoint. Every run is seeded and its sums exact, so the weights do not depend
on how many trials ran at once.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import ray
from ray import tune

from raysim.cdl.data import CDLData, subset_clients
from raysim.config import SimulationConfig
from raysim.data.sources import SourceData
from raysim.round_record import RoundRecord
from raysim.simulation import Simulation
from raysim.sweep.spec import TrialSpec
from raysim.sweep.trainable import placement, trial_config

_WEIGHTS_FILE = "weights.npy"
#: the Tune config key of a trial's model: its index in the bank's names
MODEL_KEY = "model"


@dataclass
class Bank:
    """Trained weights (flat vectors) of the specialists (in group order) and the generalist."""

    specialists: list[np.ndarray]
    generalist: np.ndarray | None
    names: list[str]
    final_eval: list[dict[str, float]] = field(default_factory=list)  # per model, seen test set
    wall_s: float = 0.0


def _train_model(
    params: dict[str, Any],
    *,
    config: dict[str, Any],
    train: SourceData,
    groups: list[list[int]],
) -> None:
    """Tune trainable: the federation of group ``params["model"]``, reported every round;
    the last report's checkpoint holds the final weights."""
    clients = groups[params[MODEL_KEY]]
    own = trial_config(config, {}, tune.get_context().get_trial_resources())
    sim = Simulation(own, data=subset_clients(train, clients)).start()
    try:
        latest: dict[str, float] = {}
        for _ in range(sim.config.rounds):
            record = RoundRecord.from_dict(sim.run_round())
            latest = record.eval or latest
            metrics = {"round": record.round, **{f"eval_{k}": v for k, v in latest.items()}}
            if record.round < sim.config.rounds:
                tune.report(metrics)
        with tempfile.TemporaryDirectory(prefix="raysim-cdl-") as folder:
            np.save(Path(folder) / _WEIGHTS_FILE, sim.weights())
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
    finally:
        sim.shutdown()


class _Progress(tune.Callback):
    """One line per finished model (Tune's own tables are off)."""

    def __init__(self, names: list[str]):
        self.names = names

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        sdr = result.get("eval_si_sdri", float("nan"))
        name = self.names[trial.config[MODEL_KEY]]
        print(f"trained {name}: {result.get('round', 0)} rounds, si_sdri on seen test {sdr:.2f}",
              flush=True)  # fmt: skip


def train_bank(
    config: SimulationConfig,
    data: CDLData,
    trial: TrialSpec,
    *,
    generalist: bool = True,
    concurrent: int | None = None,
    storage: str | Path | None = None,
    progress: bool = True,
) -> Bank:
    """Train one federation per group of `data` (and one on all clients) as Ray Tune
    trials, at most `concurrent` at a time (None: as many as fit).

    Each trial gets `trial`'s resources, with no more workers than its group has
    clients. Tune's trial folders go under `storage` (default: a temporary folder).
    Needs Ray running (`raysim.ray_runtime.init_ray`)."""
    if not ray.is_initialized():
        raise RuntimeError("train_bank needs Ray: call raysim.ray_runtime.init_ray first")
    names = list(data.group_names) + (["generalist"] if generalist else [])
    groups = [data.group_clients(g) for g in range(data.n_groups)]
    if generalist:
        groups.append(list(range(len(data.train.clients))))

    def resources(params: dict[str, Any]) -> tune.PlacementGroupFactory:
        workers = min(trial.workers, len(groups[params[MODEL_KEY]]))
        return placement(trial.model_copy(update={"workers": workers}))

    trainable = tune.with_parameters(
        _train_model, config=config.model_dump(mode="json"), train=data.train, groups=groups
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="raysim-cdl-bank-") as scratch:
        tuner = tune.Tuner(
            tune.with_resources(trainable, resources),
            param_space={MODEL_KEY: tune.grid_search(list(range(len(groups))))},
            tune_config=tune.TuneConfig(max_concurrent_trials=concurrent),
            run_config=tune.RunConfig(
                name="bank",
                storage_path=str(Path(storage or scratch).resolve()),
                callbacks=[_Progress(names)] if progress else [],
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=trial.max_failures),
            ),
        )
        results = tuner.fit()
        if results.errors:
            raise RuntimeError(f"bank: {len(results.errors)} model(s) failed: {results.errors[0]}")
        weights: list[np.ndarray] = [np.empty(0)] * len(groups)
        final: list[dict[str, float]] = [{}] * len(groups)
        for result in results:
            i = result.config[MODEL_KEY]
            with result.checkpoint.as_directory() as folder:
                weights[i] = np.load(Path(folder) / _WEIGHTS_FILE)
            final[i] = {
                k.removeprefix("eval_"): v
                for k, v in result.metrics.items()
                if k.startswith("eval_") and isinstance(v, float)
            }
    return Bank(
        weights[: data.n_groups],
        weights[-1] if generalist else None,
        names,
        final,
        time.perf_counter() - t0,
    )
