"""The CDL experiment config (`experiments/cdl.py`): validated, torch-free.

A YAML file with the keys of :class:`CDLConfig`; ``data`` takes the `se_mixtures`
source's keys (``raysim.data.se_sources.SEMixturesParams``) and ``simulation`` the
keys of a `raysim.SimulationConfig` except ``data`` (each specialist's federation is
a group of the clients the data builds). Errors name the key, as ``run.py``'s do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, model_validator

from raysim.config import ConfigError, Section, parse_config, parse_overrides, read_yaml_mapping
from raysim.data.se_sources import SEMixturesParams
from raysim.dotted import merge
from raysim.sweep.spec import TrialSpec

CONDITIONS = ("noise_class", "snr_band", "cluster")


class ModeratorParams(Section):
    """The clean-speech autoencoder (Kim 2017: fully connected, on magnitude frames).

    Features: |STFT|^exponent of each utterance scaled to unit RMS, one frame at
    a time, standardised with the clean training frames' mean and std."""

    n_fft: int = Field(256, ge=16)
    hop: int = Field(64, ge=1)
    hidden: list[int] = Field(default_factory=lambda: [128, 32], min_length=1)
    epochs: int = Field(15, ge=1)
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(256, ge=1)
    exponent: float = Field(
        1.0,
        gt=0,
        le=2,
        description="|X|^exponent: 1 the magnitude spectrum (the paper's), 2 power, <1 "
        "compressed; a log spectrum scored worse (see moderator.py)",
    )


class ClassifierParams(Section):
    """The classifier-gating baseline: logistic regression on the mean and std over
    frames of the noisy mixture's log spectrum (the moderator's features)."""

    C: float = Field(1.0, gt=0, description="inverse regularisation strength")
    max_iter: int = Field(2000, ge=10)


class CDLConfig(Section):
    """A CDL experiment: data, how clients are grouped, the specialists' federated
    training, the moderator and the gating baseline."""

    data: SEMixturesParams
    seen_classes: list[str] = Field(
        min_length=1, description="noise classes the specialists and the classifier see"
    )
    unseen_classes: list[str] = Field(
        default_factory=list, description="noise classes in test mixtures only"
    )
    condition: Literal["noise_class", "snr_band", "cluster"] = "noise_class"
    snr_bands: list[tuple[float, float]] | None = Field(
        None, description="condition snr_band: [lo, hi) dB per specialist"
    )
    n_clusters: int | None = Field(
        None, ge=2, description="condition cluster: k of k-means (default: seen classes)"
    )
    simulation: dict[str, Any] = Field(
        default_factory=dict, description="a SimulationConfig without `data`"
    )
    generalist: bool = Field(True, description="also train one model on every client")
    trial: TrialSpec = Field(
        default_factory=lambda: TrialSpec(workers=1, worker_cpus=0.3, driver_cpus=0.2),
        description="resources of each model's Ray Tune trial (as a sweep's `trial`)",
    )
    concurrent: int | None = Field(
        None, ge=1, description="models trained at once (null: as many as fit; 1: in turn)"
    )
    moderator: ModeratorParams = Field(default_factory=ModeratorParams)
    classifier: ClassifierParams = Field(default_factory=ClassifierParams)
    stoi: bool = Field(False, description="also score STOI (pystoi; slower)")

    @model_validator(mode="before")
    @classmethod
    def _source(cls, values: Any) -> Any:
        if isinstance(values, dict) and isinstance(values.get("data"), dict):
            data = {"source": "se_mixtures", "p_supervised": 1.0, **values["data"]}
            values = {**values, "data": data}
        return values

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        overlap = set(self.seen_classes) & set(self.unseen_classes)
        if overlap:
            raise ValueError(f"unseen_classes: {sorted(overlap)} are also seen_classes")
        if self.data.p_supervised == 0:
            raise ValueError(
                "data.p_supervised: 0 leaves no client with clean speech for the moderator"
            )
        if self.condition == "snr_band":
            if not self.snr_bands or len(self.snr_bands) < 2:
                raise ValueError("snr_bands: condition snr_band needs two bands or more")
            if any(lo >= hi for lo, hi in self.snr_bands):
                raise ValueError(f"snr_bands: each band is [lo, hi) with lo < hi: {self.snr_bands}")
        elif self.condition == "noise_class" and self.data.noise_partition != "classes":
            raise ValueError("data.noise_partition: condition noise_class needs 'classes'")
        if "data" in self.simulation:
            raise ValueError("simulation.data: the data is the top-level `data` section")
        if "engine" in self.simulation:
            raise ValueError("simulation.engine: each model's workers are set by `trial`")
        return self

    def groups_hint(self) -> int:
        """How many specialists the config asks for."""
        if self.condition == "snr_band":
            return len(self.snr_bands or [])
        if self.condition == "cluster":
            return self.n_clusters or len(self.seen_classes)
        return len(self.seen_classes)

    def simulation_config(self, seed: int, rounds: int | None = None) -> Any:
        """The validated `SimulationConfig` every specialist trains with."""
        extra: dict[str, Any] = {"seed": seed, "data": self.data.model_dump(mode="json")}
        if rounds is not None:
            extra["rounds"] = rounds
        return parse_config(merge(self.simulation, extra))


def _message(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if not str(p).startswith("function-"))
        parts.append(f"{loc or '(top level)'}: {e['msg']}")
    return "; ".join(parts)


def parse_cdl_config(values: dict[str, Any]) -> CDLConfig:
    """Validate a CDL config (ConfigError naming the key); checks the simulation part too."""
    try:
        cfg = CDLConfig.model_validate(values)
    except ValidationError as err:
        raise ConfigError(_message(err)) from None
    try:
        cfg.simulation_config(0)
    except ConfigError as err:
        raise ConfigError(f"simulation: {err}") from None
    return cfg


def load_cdl_config(path: str | Path, overrides: list[str] | None = None) -> CDLConfig:
    """Read a CDL YAML file, apply dotted `key=value` overrides, validate."""
    data = read_yaml_mapping(path, "CDL config")
    return parse_cdl_config(merge(data, parse_overrides(overrides or [])))
