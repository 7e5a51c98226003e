"""Run a sweep with Ray Tune: build the Tuner from a :class:`Sweep`, or restore one.

The experiment directory (``storage/name``) holds Tune's state and results plus
the sweep as it was started (``raysim_sweep.yaml``), so ``resume`` needs only the
directory. Data the trials share (the procedural corpus' feature store) is built
once here, before any trial starts.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ray import tune

from raysim.config import ConfigError, parse_config
from raysim.ray_runtime import init_ray
from raysim.sweep.live import LiveView
from raysim.sweep.progress_csv import ProgressCSV
from raysim.sweep.space import param_space
from raysim.sweep.spec import Sweep, parse_sweep
from raysim.sweep.trainable import make_trainable

SPEC_FILE = "raysim_sweep.yaml"
DEFAULT_STORAGE = Path("results") / "sweeps"


@dataclass
class SweepRun:
    """A finished (or interrupted) call of :func:`run_sweep`."""

    path: Path
    results: tune.ResultGrid
    unfinished: int  # trials neither terminated nor errored (e.g. after SIGINT)

    @property
    def interrupted(self) -> bool:
        return self.unfinished > 0


def connect(address: str | None = None, *, state_api: bool = False) -> None:
    """Join the Ray cluster at `address` (or $RAY_ADDRESS); without either start a local
    one (with Ray's state API if `state_api`: Ray Train needs it, see `init_ray`)."""
    # "local": never join a cluster just because one was started on this machine before
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    init_ray(address, log_to_driver=False, state_api=state_api)


def prepare_data(config: dict[str, Any]) -> dict[str, Any]:
    """Make the base config's data ready for trials on any node.

    The data source's own :meth:`~raysim.data.sources.SourceParams.prepare` builds
    what the trials share once, here (e.g. the procedural corpus' feature store,
    which trials then read as a ``feature_store``), and makes paths absolute (trials
    run in their own directories). On a multi-node cluster, caches and data paths
    must be shared storage.
    """
    out = copy.deepcopy(config)
    out["data"] = parse_config(config).data.prepare().model_dump(mode="json")
    if out.get("init_checkpoint"):
        out["init_checkpoint"] = str(Path(out["init_checkpoint"]).expanduser().resolve())
    return out


def _callbacks(sweep: Sweep, path: Path, live: bool) -> list[tune.Callback]:
    from ray.tune.logger import JsonLoggerCallback

    from raysim.sweep.tensorboard import TensorBoardLogger

    spec = sweep.spec
    # progress.csv with every key reported, not only those of the first round
    callbacks: list[tune.Callback] = [JsonLoggerCallback(), ProgressCSV()]
    if spec.logging.tensorboard:
        callbacks.append(TensorBoardLogger())
    mlflow = spec.logging.mlflow_spec()
    if mlflow is not None:
        if importlib.util.find_spec("mlflow") is None:
            raise ConfigError(
                "logging.mlflow: MLflow logging needs the mlflow package "
                "(pip install mlflow), or set logging.mlflow: false"
            )
        from ray.air.integrations.mlflow import MLflowLoggerCallback

        callbacks.append(
            MLflowLoggerCallback(
                tracking_uri=mlflow.tracking_uri or (path / "mlruns").as_uri(),
                experiment_name=mlflow.experiment_name or sweep.name,
            )
        )
    if live:
        rounds = parse_config(spec.config).rounds
        callbacks.append(LiveView(spec.tune.metric, spec.tune.mode, rounds))
    return callbacks


@contextlib.contextmanager
def _only_our_loggers() -> Iterator[None]:
    """Within: Tune adds none of its default loggers (TensorBoard's among them, even with
    logging.tensorboard false); `_callbacks` holds the ones asked for. Restored after,
    so other Tuners in the process (e.g. the centralized sweep's) keep Tune's defaults."""
    key = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"
    old = os.environ.get(key)
    os.environ[key] = "1"
    try:
        yield
    finally:
        if old is None:
            del os.environ[key]
        else:
            os.environ[key] = old


def _trial_dirname(trial: Any) -> str:
    return f"trial_{trial.trial_id}"


def experiment_path(storage: str | Path, name: str) -> Path:
    """The absolute experiment directory `storage/name`."""
    return Path(storage).expanduser().resolve() / name


def saved_sweep(path: str | Path) -> Sweep:
    """The sweep an experiment directory was started with."""
    file = Path(path) / SPEC_FILE
    if not file.is_file():
        raise ConfigError(f"{path}: not a raysim sweep experiment (no {SPEC_FILE})")
    return parse_sweep(yaml.safe_load(file.read_text()))


def run_sweep(
    sweep: Sweep,
    path: str | Path,
    *,
    resume: bool = False,
    address: str | None = None,
    live: bool = True,
) -> SweepRun:
    """Run `sweep` into the experiment directory `path` (or continue it, with `resume`).

    Resuming skips finished trials, continues unfinished ones from their latest
    checkpoint and retries errored ones from theirs.
    """
    path = Path(path).expanduser().resolve()
    spec_file = path / SPEC_FILE
    if resume:
        if not tune.Tuner.can_restore(str(path)):
            raise ConfigError(f"--resume: no sweep state to resume in {path}")
    elif spec_file.exists():
        raise ConfigError(f"{path} already holds a sweep: resume it or choose another name")
    callbacks = _callbacks(sweep, path, live)  # fails here if a logger is missing
    path.mkdir(parents=True, exist_ok=True)
    if not resume:
        spec_file.write_text(yaml.safe_dump(sweep.to_dict(), sort_keys=False))
    connect(address)
    # checkpoints force small state snapshots; their cost is no news on every run
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    spec = sweep.spec
    trainable = make_trainable(prepare_data(spec.config), spec.tune.metric, spec.trial)
    if resume:  # the restored Tuner keeps its RunConfig, callbacks included
        tuner = tune.Tuner.restore(
            str(path), trainable, resume_unfinished=True, resume_errored=True
        )
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=param_space(sweep.dims),
            tune_config=tune.TuneConfig(
                metric=spec.tune.metric,
                mode=spec.tune.mode,
                num_samples=spec.tune.num_samples,
                max_concurrent_trials=spec.tune.max_concurrent_trials,
                scheduler=spec.tune.scheduler.build(),
                trial_dirname_creator=_trial_dirname,
                # a finished trial's actor, and the engine actors it kept
                # (`raysim.engine.warm`), run the next trial: no process start-up
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=path.name,
                storage_path=str(path.parent),
                callbacks=callbacks,
                verbose=0,
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
                failure_config=tune.FailureConfig(max_failures=spec.trial.max_failures),
            ),
        )
    with _only_our_loggers():
        results = tuner.fit()
    # After SIGINT Tune stops the running trials, so count from the state it saved before.
    saved = tune.ExperimentAnalysis(str(path)).trials
    unfinished = sum(t.status not in ("TERMINATED", "ERROR") for t in saved)
    return SweepRun(path, results, unfinished)
