"""The Tune trainable: one trial is one federated simulation, inside its placement group.

The trial's placement group holds a driver bundle (this function and the
simulation's aggregator actor) and one bundle per engine worker, so trials
pack a machine or a cluster without oversubscribing it; the engine keeps its
actors inside the group. Every round is reported (schedulers act per round)
and every few rounds a whole-simulation checkpoint goes to Tune, from which an
interrupted or failed trial resumes.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import ray
from ray import tune

from raysim.config import merge
from raysim.simulation import Simulation
from raysim.sweep.space import apply
from raysim.sweep.spec import TrialSpec

_SIM_FILE = "simulation.pt"
_STATE_FILE = "trial_state.json"


def placement(trial: TrialSpec) -> tune.PlacementGroupFactory:
    """A trial's resources: bundle 0 for the trial function and aggregator, then one per worker."""
    worker = {"CPU": trial.worker_cpus}
    if trial.worker_gpus:
        worker["GPU"] = trial.worker_gpus
    bundles = [{"CPU": trial.driver_cpus}] + [dict(worker) for _ in range(trial.workers)]
    return tune.PlacementGroupFactory(bundles, strategy=trial.placement_strategy)


def trial_config(
    base: dict[str, Any], params: dict[str, Any], resources: tune.PlacementGroupFactory
) -> dict[str, Any]:
    """The simulation config of a trial: base + sampled params + workers from its bundles."""
    workers = resources.bundles[1:]
    engine = {
        "num_workers": len(workers),
        "worker_cpus": workers[0].get("CPU", 0.0),
        "worker_gpus": workers[0].get("GPU", 0.0),
    }
    return merge(apply(base, params), {"engine": engine})


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _restore(sim: Simulation) -> dict[str, Any]:
    """Resume from the trial's latest Tune checkpoint; returns the saved trial state."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return {}
    with checkpoint.as_directory() as folder:
        sim.resume(Path(folder) / _SIM_FILE)
        return json.loads((Path(folder) / _STATE_FILE).read_text())


def _report(sim: Simulation, metrics: dict[str, Any], state: dict[str, Any], save: bool) -> None:
    if not save:
        tune.report(metrics)
        return
    with tempfile.TemporaryDirectory(prefix="raysim-ckpt-") as folder:
        sim.save(Path(folder) / _SIM_FILE)
        (Path(folder) / _STATE_FILE).write_text(json.dumps(state))
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def run_trial(
    params: dict[str, Any], *, base: dict[str, Any], metric: str, checkpoint_every: int
) -> None:
    """Tune function trainable: run (or continue) one simulation, reporting every round.

    Args:
        params: the trial's sampled values, {dotted config key: value}.
        base: the base simulation config (data already prepared by the driver).
        metric: the metric Tune optimises; NaN until the first evaluation, then the
            latest evaluation's value (``eval_round`` says which round it is from).
        checkpoint_every: rounds between checkpoints (the last round always has one).
    """
    sim = Simulation(trial_config(base, params, tune.get_context().get_trial_resources()))
    node_id = ray.get_runtime_context().get_node_id()
    try:
        sim.start()
        state = _restore(sim)
        latest: dict[str, Any] = state.get("latest_eval", {metric: math.nan, "eval_round": 0})
        start, rounds = sim.stats()["round"], sim.config.rounds
        for _ in range(start, rounds):
            record = _flatten(sim.run_round())
            evals = {k: v for k, v in record.items() if k.startswith("eval_")}
            if evals:
                latest = {**evals, "eval_round": record["round"]}
            state = {"latest_eval": latest}
            done = record["round"] == rounds
            save = done or record["round"] % checkpoint_every == 0
            _report(sim, {**record, **latest, "node_id": node_id}, state, save)
    finally:
        sim.shutdown()


def make_trainable(base: dict[str, Any], metric: str, trial: TrialSpec) -> Any:
    """The trainable Tune runs: :func:`run_trial` bound to the sweep, with its resources."""
    bound = tune.with_parameters(
        run_trial, base=base, metric=metric, checkpoint_every=trial.checkpoint_every
    )
    return tune.with_resources(bound, placement(trial))
