"""A sweep's grid trained centrally: Ray Train's `TorchTrainer` inside Ray Tune trials.

The same sweep file as a federated sweep (`raysim.sweep.spec`): each trial's config is
the base config with the trial's sampled values merged in, trained on the pooled client
data as `config.centralized` says (epochs, DDP workers, CPUs and GPUs per worker). A
trial is a Tune function trainable that runs one Ray Train fit
(`raysim.centralized_train.train_centralized_ray`, Ray Train V2's way of running
inside Tune): the workers' every epoch record (``epoch``, ``train_loss``, ``lr``, the
validation share's ``val_*`` scores) reaches the trial through `TuneReportCallback`,
and the trial's last result adds the best-validation epoch's ``test_*`` scores. Tune
compares trials on the sweep's metric with its ``eval_`` prefix read as ``val_``
(``eval_si_sdri`` -> ``val_si_sdri``); its scheduler acts per epoch. The experiment
directory holds the sweep file (``raysim_sweep.yaml``), Tune's results (one trial per
combination) and the Ray Train runs; `raysim.analysis.optimizer_study` reads them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from raysim.centralized import VAL_PREFIX
from raysim.config import ConfigError, parse_config
from raysim.dotted import merge
from raysim.round_record import EVAL_PREFIX
from raysim.sweep.runner import SPEC_FILE, SweepRun, connect, prepare_data
from raysim.sweep.space import apply, param_space
from raysim.sweep.spec import Sweep

TRAIN_DIR = "ray_train"
"""The experiment's subfolder where each trial's Ray Train run keeps its checkpoints."""

TEST_PREFIX = "test_"
"""A trial's last result: the best-validation epoch's scores on the test share."""


def centralized_metric(metric: str) -> str:
    """The key a centralized trial reports for the sweep's `metric` (validation share)."""
    return VAL_PREFIX + metric.removeprefix(EVAL_PREFIX)


def run_centralized_trial(params: dict[str, Any], *, base: dict[str, Any], train_dir: str) -> None:
    """Tune function trainable: one Ray Train fit of the base config with the trial's
    `params` ({dotted key: value}); Ray Train's workers report every epoch to this
    trial (`TuneReportCallback`), and the trial then reports the best-validation
    epoch's test-share scores (``test_*``, with ``best_epoch``) as its last result.
    Ray Train keeps its checkpoints under `train_dir`/<trial id>, so a trial Tune
    restarts resumes its fit from there."""
    from ray import tune
    from ray.tune.integration.ray_train import TuneReportCallback

    from raysim.centralized_train import train_centralized_ray

    trial = {"storage_path": train_dir, "run_name": tune.get_context().get_trial_id()}
    config = parse_config(merge(apply(base, params), {"centralized": trial}))
    result = train_centralized_ray(config, callbacks=[TuneReportCallback()])
    last = result.history[-1]
    tune.report({**last, "best_epoch": result.best_epoch,
                 **{TEST_PREFIX + k: v for k, v in result.test_metrics.items()}})  # fmt: skip


def run_centralized_sweep(
    sweep: Sweep, path: str | Path, *, resume: bool = False, address: str | None = None
) -> SweepRun:
    """Run `sweep`'s grid centrally into the experiment directory `path` (or continue it).

    Each Tune trial is one Ray Train fit of the base config with the trial's values
    (``config.centralized`` sets epochs and workers; ``rounds``, ``sampling`` and
    ``strategy`` do not apply). `tune.metric`, `tune.mode`, `num_samples`,
    `max_concurrent_trials` and the scheduler are the sweep's.
    """
    from ray import tune

    path = Path(path).expanduser().resolve()
    spec = sweep.spec
    if resume and not tune.Tuner.can_restore(str(path)):
        raise ConfigError(f"--resume: no sweep state to resume in {path}")
    if not resume and (path / SPEC_FILE).exists():
        raise ConfigError(f"{path} already holds a sweep: resume it or choose another name")
    path.mkdir(parents=True, exist_ok=True)
    if not resume:
        import yaml

        (path / SPEC_FILE).write_text(yaml.safe_dump(sweep.to_dict(), sort_keys=False))
    connect(address, state_api=True)  # Ray Train's controller queries it
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    fn = tune.with_parameters(run_centralized_trial, base=prepare_data(spec.config),
                              train_dir=str(path / TRAIN_DIR))  # fmt: skip
    # the trial function only waits on its fit; Ray Train's workers hold the CPUs
    trainable = tune.with_resources(fn, {"CPU": spec.trial.driver_cpus})
    if resume:
        tuner = tune.Tuner.restore(str(path), trainable, resume_unfinished=True,
                                   resume_errored=True)  # fmt: skip
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=param_space(sweep.dims),
            tune_config=tune.TuneConfig(
                metric=centralized_metric(spec.tune.metric),
                mode=spec.tune.mode,
                num_samples=spec.tune.num_samples,
                max_concurrent_trials=spec.tune.max_concurrent_trials,
                scheduler=spec.tune.scheduler.build(),
                trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}",
            ),
            run_config=tune.RunConfig(
                name=path.name,
                storage_path=str(path.parent),
                verbose=1,
                failure_config=tune.FailureConfig(max_failures=spec.trial.max_failures),
            ),
        )
    results = tuner.fit()
    saved = tune.ExperimentAnalysis(str(path)).trials
    unfinished = sum(t.status not in ("TERMINATED", "ERROR") for t in saved)
    return SweepRun(path, results, unfinished)
