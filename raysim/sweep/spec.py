"""The sweep file: a base simulation config, a search space and how Tune runs it.

Everything is validated on load, before Ray starts: the file's own sections
(unknown keys are errors), every trial config the space can produce (see
:mod:`raysim.sweep.space`), the scheduler's arguments and the report's keys.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from raysim.config import (
    ConfigError,
    Section,
    parse_config,
    parse_overrides,
    read_yaml_mapping,
)
from raysim.dotted import has_dotted, merge, unflatten
from raysim.input_checks import check_inputs
from raysim.sweep.space import Dimension, parse_space, validate_space
from raysim.validation_errors import format_validation_error

# Config keys a sweep sets itself, per trial: the placement group decides the engine's
# workers, and Tune owns checkpoints.
RESERVED_KEYS = {
    "engine.num_workers": "trial.workers",
    "engine.worker_cpus": "trial.worker_cpus",
    "engine.worker_gpus": "trial.worker_gpus",
    "checkpoint.dir": "trial.checkpoint_every (Tune keeps the checkpoints)",
    "checkpoint.every": "trial.checkpoint_every (Tune keeps the checkpoints)",
}
SCHEDULERS = {
    "fifo": "FIFOScheduler",
    "asha": "AsyncHyperBandScheduler",
    "median": "MedianStoppingRule",
    "hyperband": "HyperBandScheduler",
}


class SchedulerSpec(Section):
    """A Tune trial scheduler by name; other keys are its constructor's arguments."""

    model_config = ConfigDict(extra="allow")
    name: Literal["fifo", "asha", "median", "hyperband"] = "fifo"

    def kwargs(self) -> dict[str, Any]:
        """Constructor arguments (time is counted in rounds unless set)."""
        if self.name == "fifo":
            return dict(self.model_extra or {})
        return {"time_attr": "training_iteration", **(self.model_extra or {})}

    def scheduler_class(self) -> type:
        from ray.tune import schedulers

        return getattr(schedulers, SCHEDULERS[self.name])

    def grace_period(self) -> float | None:
        """The first round at which the scheduler compares trials (None: no such notion)."""
        param = inspect.signature(self.scheduler_class()).parameters.get("grace_period")
        return None if param is None else self.kwargs().get("grace_period", param.default)

    def build(self) -> Any:
        """The scheduler object (ConfigError naming a bad argument); Tune gives it the
        metric and mode of the sweep."""
        cls = self.scheduler_class()
        kwargs = self.kwargs()
        unknown = set(kwargs) - set(inspect.signature(cls).parameters)
        if unknown:
            raise ConfigError(f"tune.scheduler.{sorted(unknown)[0]}: not an argument of {cls}")
        try:
            return cls(**kwargs)
        except (TypeError, ValueError, AssertionError) as err:
            raise ConfigError(f"tune.scheduler ({self.name}): {err}") from None


class TuneSpec(Section):
    """What Tune optimises and how many trials it runs."""

    metric: str = Field("eval_accuracy", description="a reported key, e.g. eval_uar")
    mode: Literal["max", "min"] = "max"
    num_samples: int = Field(1, ge=1, description="repeats of the grid (sampled keys redrawn)")
    max_concurrent_trials: int | None = Field(
        None,
        ge=1,
        description="most trials running at once (default: as many as their placement "
        "groups, `trial`, fit on the cluster)",
    )
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)


class TrialSpec(Section):
    """Resources of one trial: a placement group holding its driver, aggregator and workers."""

    workers: int = Field(1, ge=1, description="engine workers (one bundle each)")
    worker_cpus: float = Field(0.25, gt=0)
    worker_gpus: float = Field(0.0, ge=0)
    driver_cpus: float = Field(0.25, gt=0, description="the trial function and its aggregator")
    placement_strategy: Literal["STRICT_PACK", "PACK", "SPREAD", "STRICT_SPREAD"] = Field(
        "STRICT_PACK", description="STRICT_PACK keeps a trial on one node"
    )
    checkpoint_every: int = Field(5, ge=1, description="rounds between Tune checkpoints")
    max_failures: int = Field(1, ge=0, description="retries of a failed trial")


class MLflowSpec(Section):
    """MLflow tracking through Tune's MLflowLoggerCallback."""

    tracking_uri: str | None = Field(None, description="default: file store in the experiment")
    experiment_name: str | None = Field(None, description="default: the sweep's name")


class LoggingSpec(Section):
    """Loggers besides Tune's JSON/CSV results."""

    tensorboard: bool = True
    mlflow: bool | MLflowSpec = False

    def mlflow_spec(self) -> MLflowSpec | None:
        """The MLflow settings, or None when MLflow logging is off."""
        if self.mlflow is True:
            return MLflowSpec()
        return self.mlflow or None


class HeatmapSpec(Section):
    """Final metric over two config keys, one heatmap per value of `facet`."""

    x: str
    y: str
    facet: str | None = None


class ReportSpec(Section):
    """How the analysis report names and groups config keys."""

    labels: dict[str, str] = Field(default_factory=dict, description="dotted key -> label")
    replicates: list[str] = Field(
        default_factory=lambda: ["seed"], description="keys averaged over (mean ± std)"
    )
    heatmap: HeatmapSpec | None = None


class SweepSpec(Section):
    """A whole sweep file."""

    # saved as YAML beside the results: .inf stays .inf (privacy.epsilon), not null
    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, ser_json_inf_nan="constants"
    )

    name: str | None = Field(None, description="experiment name (default: the file's stem)")
    description: str = ""
    config: dict[str, Any] = Field(default_factory=dict, description="the base simulation")
    space: dict[str, Any] = Field(default_factory=dict)
    tune: TuneSpec = Field(default_factory=TuneSpec)
    trial: TrialSpec = Field(default_factory=TrialSpec)
    logging: LoggingSpec = Field(default_factory=LoggingSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)


@dataclass
class Sweep:
    """A validated sweep: the spec as written, and its parsed search space."""

    spec: SweepSpec
    dims: list[Dimension]

    @property
    def name(self) -> str:
        return self.spec.name or "sweep"

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (what is saved beside the results)."""
        return self.spec.model_dump(mode="json")


def _check_reserved(spec: SweepSpec, dims: list[Dimension]) -> None:
    for key, instead in RESERVED_KEYS.items():
        if has_dotted(spec.config, key):
            raise ConfigError(f"config.{key}: set by the sweep; use {instead}")
        for dim in dims:
            if any(has_dotted(unflatten({dim.key: v}), key) for v in dim.candidates()):
                raise ConfigError(f"space.{dim.key}: sets {key}, set by the sweep; use {instead}")
    config = parse_config(spec.config)
    if config.engine.mode != "pool":
        raise ConfigError("config.engine.mode: sweeps run the worker pool mode only")
    # what the data source's prepare() builds once, before the trials, is the same for all
    for dim in dims:
        for key in config.data.prepared_keys:
            if any(has_dotted(unflatten({dim.key: v}), f"data.{key}") for v in dim.candidates()):
                raise ConfigError(
                    f"space.{dim.key}: data.{key} is prepared once before the trials "
                    f"(data source {config.data.source!r}) and cannot be swept"
                )


def _check_report_keys(spec: SweepSpec, dims: list[Dimension]) -> None:
    heat = spec.report.heatmap
    keys = [*spec.report.replicates, *([heat.x, heat.y, heat.facet] if heat else [])]
    for key in filter(None, keys):
        candidates = [spec.config, parse_config(spec.config).model_dump()]
        candidates += [unflatten({d.key: d.candidates()[0]}) for d in dims]
        if not any(has_dotted(c, key) for c in candidates):
            raise ConfigError(f"report: {key!r} is neither swept nor a key of the config")


def _check_scheduler(spec: SweepSpec) -> None:
    tune = spec.tune
    tune.scheduler.build()
    grace = tune.scheduler.grace_period()
    if grace is None or not tune.metric.startswith("eval_"):
        return
    config = parse_config(spec.config)
    first = config.eval.every or config.rounds
    if grace < first:
        raise ConfigError(
            f"tune.scheduler.grace_period: {grace} is before the first evaluation "
            f"(round {first}, config.eval.every); the scheduler would compare no metric"
        )


def parse_sweep(data: dict[str, Any], default_name: str = "sweep") -> Sweep:
    """Validate a sweep given as a dict (ConfigError naming the key at fault)."""
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, SweepSpec, "invalid sweep")) from None
    if spec.name is None:
        spec.name = default_name
    dims = parse_space(spec.space)
    validate_space(spec.config, dims)
    _check_reserved(spec, dims)
    _check_scheduler(spec)
    _check_report_keys(spec, dims)
    check_inputs(parse_config(spec.config), prefix="config.")
    return Sweep(spec, dims)


def load_sweep(path: str | Path, overrides: list[str] | None = None) -> Sweep:
    """Read a sweep YAML file and apply dotted overrides (e.g. `config.rounds=5`)."""
    path = Path(path)
    data = merge(read_yaml_mapping(path, "sweep file"), parse_overrides(overrides or []))
    return parse_sweep(data, default_name=path.stem)
