"""The one validated configuration object of a simulation (pydantic v2).

Every section forbids unknown keys, so a typo fails at start with the key's
dotted path; impossible values (fraction outside (0, 1], negative learning
rates, more workers than clients...) fail the same way. Sections that name a
pluggable implementation (task, data, strategy, server_optimizer,
local.optimizer, local.lr_schedule) hold that implementation's own typed params
(`raysim.registry`): validated here, once, and passed on as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from raysim.centralized_config import CentralizedConfig
from raysim.dotted import NotASectionError, merge, set_dotted
from raysim.privacy import PrivacyConfig, config_problems, invalid
from raysim.registry import (
    DATA_SOURCES,
    LOCAL_OPTIMIZERS,
    LR_SCHEDULES,
    SERVER_OPTIMIZERS,
    STRATEGIES,
    TASKS,
)
from raysim.system.config import SystemConfig, check_system
from raysim.validation_errors import format_validation_error


class Section(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LocalConfig(Section):
    """What each client does in a round."""

    optimizer: LOCAL_OPTIMIZERS.type = LOCAL_OPTIMIZERS.field()
    lr_schedule: LR_SCHEDULES.type = LR_SCHEDULES.field()
    epochs: int = Field(1, ge=1)
    steps: int | None = Field(None, ge=1, description="fixed step count instead of epochs")
    batch_size: int = Field(32, ge=1)
    clip_grad_norm: float | None = Field(None, gt=0)
    shuffle: bool = Field(True, description="reshuffle each epoch, seeded by (seed, round, client)")


class SamplingConfig(Section):
    """Which clients take part in a round."""

    fraction: float | None = Field(0.1, gt=0, le=1)
    clients_per_round: int | None = Field(None, ge=1)
    availability: float = Field(1.0, gt=0, le=1, description="P(sampled client reports)")
    availability_concentration: float | None = Field(
        None,
        gt=0,
        description="per-client probabilities ~ Beta with mean `availability` and this "
        "concentration (None: every client has exactly `availability`)",
    )

    @model_validator(mode="after")
    def _one_of(self) -> SamplingConfig:
        if self.clients_per_round is not None:
            object.__setattr__(self, "fraction", None)
        if self.fraction is None and self.clients_per_round is None:
            raise ValueError("set sampling.fraction or sampling.clients_per_round")
        return self


class EngineConfig(Section):
    """How the simulation executes on Ray."""

    num_workers: int | None = Field(None, ge=1, description="default: one per available CPU")
    worker_cpus: float = Field(1.0, gt=0)
    worker_gpus: float = Field(0.0, ge=0)
    mode: Literal["pool", "actor_per_client"] = "pool"
    balance: Literal["samples", "count"] = "samples"
    torch_threads: int = Field(1, ge=1)


class EvalConfig(Section):
    """Server-side evaluation on held-out data (what it measures is the task's)."""

    every: int = Field(1, ge=0, description="rounds between evaluations (0: only at the end)")
    stuck_rounds: int = Field(
        100,
        ge=0,
        description="warn when an evaluation metric has not changed for this many rounds "
        "(a model stuck on one class); 0: never",
    )


class CheckpointConfig(Section):
    """Whole-simulation checkpoints (model, server state, client states)."""

    dir: str | None = None
    every: int = Field(0, ge=0, description="rounds between checkpoints (0: never)")
    keep: int = Field(2, ge=1)


class SimulationConfig(Section):
    """A whole federated simulation."""

    seed: int = 0
    rounds: int = Field(30, ge=1)
    init_checkpoint: str | None = Field(
        None, description="warm start: a checkpoint or flat-state file to take global weights from"
    )
    task: TASKS.type = TASKS.field()
    data: DATA_SOURCES.type = DATA_SOURCES.field()
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    local: LocalConfig = Field(default_factory=LocalConfig)
    strategy: STRATEGIES.type = STRATEGIES.field()
    server_optimizer: SERVER_OPTIMIZERS.type = SERVER_OPTIMIZERS.field()
    engine: EngineConfig = Field(default_factory=EngineConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    centralized: CentralizedConfig = Field(
        default_factory=CentralizedConfig,
        description="the pooled-data reference (`experiments/centralized.py`); unused by FL",
    )
    privacy: PrivacyConfig | None = Field(
        None, description="differential privacy (DP-FedAvg, `raysim.privacy`); None: off"
    )
    system: SystemConfig | None = Field(
        None,
        description="system heterogeneity: client speeds, virtual time, sync / deadline / "
        "fedbuff aggregation (`raysim.system`); None: no virtual time",
    )

    @model_validator(mode="after")
    def _system(self) -> SimulationConfig:
        if self.system is not None:
            check_system(self)
        return self

    @model_validator(mode="after")
    def _private(self) -> SimulationConfig:
        if self.privacy is None:
            return self
        problems = config_problems(self)
        if problems:
            raise invalid("SimulationConfig", problems)
        if self.strategy.weighting is None:  # DP-FedAvg's uniform weights
            uniform = self.strategy.model_copy(update={"weighting": "uniform"})
            object.__setattr__(self, "strategy", uniform)
        return self

    @model_validator(mode="after")
    def _fit_to_rounds(self) -> SimulationConfig:
        # schedules given as fractions of the run are resolved against `rounds` here, and
        # ones given in rounds that do not fit it warn (`raysim.run_length`)
        object.__setattr__(self, "task", self.task.for_rounds(self.rounds, "task"))
        schedule = self.local.lr_schedule.for_rounds(self.rounds, "local.lr_schedule")
        object.__setattr__(self.local, "lr_schedule", schedule)
        return self


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key and the value."""


def parse_config(data: dict[str, Any] | SimulationConfig | None = None) -> SimulationConfig:
    """Validate a dict into a SimulationConfig, raising ConfigError naming bad keys."""
    if isinstance(data, SimulationConfig):
        return data
    try:
        return SimulationConfig.model_validate(data or {})
    except ValidationError as err:
        message = format_validation_error(err, SimulationConfig, "invalid config")
        raise ConfigError(message) from None


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Turn ['local.optimizer.lr=0.1', ...] into a nested dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"override {pair!r}: expected key=value")
        key, raw = pair.split("=", 1)
        try:
            set_dotted(out, key.strip(), yaml.safe_load(raw))
        except NotASectionError as err:
            raise ConfigError(str(err)) from None
        except yaml.YAMLError as err:
            problem = _yaml_problem(err)
            raise ConfigError(f"override {pair!r}: the value is not YAML ({problem})") from None
    return out


def _yaml_problem(err: yaml.YAMLError) -> str:
    """What a YAML parse error says, on one line (with the line and column if known)."""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    mark = getattr(err, "problem_mark", None)
    return problem + (f" at line {mark.line + 1}, column {mark.column + 1}" if mark else "")


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The mapping in YAML file `path` (`what` it is, for messages); ConfigError if the
    file is missing, not YAML or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({_yaml_problem(err)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def load_config(
    path: str | Path | None = None, overrides: list[str] | None = None
) -> SimulationConfig:
    """Read a YAML config file, apply dotted `key=value` overrides, and validate."""
    data = read_yaml_mapping(path, "config file") if path is not None else {}
    return parse_config(merge(data, parse_overrides(overrides or [])))
