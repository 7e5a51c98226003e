"""The Tune trainable: one trial is one federated simulation, inside its placement group.

The trial's placement group holds a driver bundle (this function and the
simulation's aggregator actor) and one bundle per engine worker, so trials
pack a machine or a cluster without oversubscribing it; the engine keeps its
actors inside the group. Every round is reported (schedulers act per round)
and every few rounds a whole-simulation checkpoint goes to Tune, from which an
interrupted or failed trial resumes. Each trial saves the federation it trains
(`raysim.federation`) as federation.json in its folder, beside Tune's results.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.tune import result as tune_result

from raysim.dotted import merge
from raysim.federation import FEDERATION_FILE, Federation
from raysim.round_record import EVAL_PREFIX, RoundRecord
from raysim.simulation import Simulation
from raysim.sweep.space import apply
from raysim.sweep.spec import TrialSpec

_SIM_FILE = "simulation.pt"
_STATE_FILE = "trial_state.json"

#: keys a trial reports beside its round record
EVAL_ROUND, NODE_ID = "eval_round", "node_id"
#: keys Tune adds to every result (and its ``config/*`` columns in tables)
TUNE_KEYS = frozenset(
    {
        *tune_result.AUTO_RESULT_KEYS,
        tune_result.DONE,
        tune_result.TRIAL_ID,
        tune_result.SHOULD_CHECKPOINT,
        tune_result.EXPERIMENT_TAG,
    }
)
_TUNE_CONFIG = tune_result.CONFIG_PREFIX + "/"


@dataclass(frozen=True)
class TrialReport:
    """What a trial reports to Tune each round: the round's record, the latest
    evaluation so far (its metrics on every round, so that schedulers and the live
    view always have the sweep's metric) and the node the trial runs on.

    Flat, it is the round record's dict with the latest evaluation's ``eval_*``
    values in place of the round's own, ``eval_round`` (the round they are from;
    0 before the first) and ``node_id``.
    """

    record: RoundRecord
    latest_eval: dict[str, float]  # metric name (no prefix) -> value
    eval_round: int
    node_id: str

    def carried(self) -> dict[str, Any]:
        """The flat latest evaluation and its round (also what a checkpoint keeps)."""
        metrics = {EVAL_PREFIX + k: v for k, v in self.latest_eval.items()}
        return {**metrics, EVAL_ROUND: self.eval_round}

    def to_dict(self) -> dict[str, Any]:
        """The Tune result (flat)."""
        return {**self.record.to_dict(), **self.carried(), NODE_ID: self.node_id}

    @classmethod
    def from_dict(cls, result: Mapping[str, Any]) -> TrialReport:
        """The report in a Tune result (Tune's own keys ignored). The round's own
        evaluation is the carried one when it is from this round, else none."""
        own = {
            k: v for k, v in result.items() if k not in TUNE_KEYS and not k.startswith(_TUNE_CONFIG)
        }
        eval_round, node_id = int(own.pop(EVAL_ROUND)), str(own.pop(NODE_ID))
        carried = RoundRecord.from_dict(own)
        record = carried if carried.round == eval_round else replace(carried, eval={})
        return cls(record, carried.eval, eval_round, node_id)

    @classmethod
    def of(cls, result: Mapping[str, Any]) -> TrialReport | None:
        """The report in a trial's latest Tune result; None before its first report."""
        return cls.from_dict(result) if EVAL_ROUND in result else None


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


def _restore(sim: Simulation) -> dict[str, Any]:
    """Resume from the trial's latest Tune checkpoint; returns the saved trial state."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return {}
    with checkpoint.as_directory() as folder:
        sim.resume(Path(folder) / _SIM_FILE)
        return json.loads((Path(folder) / _STATE_FILE).read_text())


def _latest_eval(state: dict[str, Any], metric: str) -> tuple[dict[str, float], int]:
    """The latest evaluation and its round as a checkpoint kept them (flat, as
    :meth:`TrialReport.carried`); before any, the sweep's metric as NaN."""
    saved = dict(state.get("latest_eval", {}))
    eval_round = int(saved.pop(EVAL_ROUND, 0))
    if not saved and metric.startswith(EVAL_PREFIX):
        saved = {metric: math.nan}
    return {k.removeprefix(EVAL_PREFIX): v for k, v in saved.items()}, eval_round


def _save_federation(federation: Federation) -> None:
    """``federation.json`` in the trial's folder of the experiment, on Tune's storage
    (where its results go, from whichever node the trial runs on)."""
    storage = tune.get_context().get_storage()
    fs, folder = storage.storage_filesystem, storage.trial_fs_path
    fs.create_dir(folder, recursive=True)
    with fs.open_output_stream(f"{folder}/{FEDERATION_FILE}") as out:
        out.write(federation.to_json().encode())


def _report(
    sim: Simulation,
    metrics: dict[str, Any],
    state: dict[str, Any],
    save: bool,
    submit_next: Callable[[], ray.ObjectRef | None],
) -> ray.ObjectRef | None:
    """Report a round to Tune (with a checkpoint if `save`) while the next round,
    started by `submit_next` once the checkpoint is written, already runs: Tune's
    per-report round trip then costs the trial no time. Returns the next round's ref."""
    if not save:
        submitted = submit_next()
        tune.report(metrics)
        return submitted
    with tempfile.TemporaryDirectory(prefix="raysim-ckpt-") as folder:
        sim.save(Path(folder) / _SIM_FILE)
        (Path(folder) / _STATE_FILE).write_text(json.dumps(state))
        submitted = submit_next()
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
        return submitted


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
    resources = tune.get_context().get_trial_resources()
    # the sweep reuses trial actors (Tune's reuse_actors), and with them the engine
    # actors an earlier trial of this process kept: no process start-up per trial
    sim = Simulation(trial_config(base, params, resources), reuse_actors=True)
    node_id = ray.get_runtime_context().get_node_id()
    clean_end = False
    try:
        sim.start()
        _save_federation(sim.federation)
        latest, eval_round = _latest_eval(_restore(sim), metric)
        start, rounds = sim.stats()["round"], sim.config.rounds
        submitted = sim.submit_round() if start < rounds else None
        while submitted is not None:
            record = RoundRecord.from_dict(sim.collect_round(submitted))
            if record.eval:
                latest, eval_round = record.eval, record.round
            report = TrialReport(record, latest, eval_round, node_id)
            last = record.round == rounds
            save = last or record.round % checkpoint_every == 0
            next_round = (lambda: None) if last else sim.submit_round
            state = {"latest_eval": report.carried()}
            submitted = _report(sim, report.to_dict(), state, save, next_round)
        clean_end = True
    except SystemExit:  # Tune stopping the trial (e.g. ASHA): the actors are sound
        clean_end = True
        raise
    finally:
        sim.shutdown(keep_actors=clean_end)


def make_trainable(base: dict[str, Any], metric: str, trial: TrialSpec) -> Any:
    """The trainable Tune runs: :func:`run_trial` bound to the sweep, with its resources."""
    bound = tune.with_parameters(
        run_trial, base=base, metric=metric, checkpoint_every=trial.checkpoint_every
    )
    return tune.with_resources(bound, placement(trial))
