"""What every feature extractor shares: the extractor protocol and its params' base."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
from pydantic import ConfigDict, ValidationError

from raysim.registry import FEATURE_EXTRACTORS, Named
from raysim.validation_errors import format_validation_error


class Extractor(Protocol):
    """Turns one mono float32 waveform into a fixed-size float32 vector of length `dim`."""

    sample_rate: int | None  # rate the audio must be loaded at; None keeps the file's rate
    dim: int
    feature_names: list[str] | None

    def process(self, wave: np.ndarray, sr: int) -> np.ndarray:
        """Feature vector of one waveform (raise on input it cannot handle)."""
        ...


class FeatureConfig(Named):
    """Base of the frozen, hashable params of each extractor family (one extractor per
    process is cached by them). Registered in `raysim.registry.FEATURE_EXTRACTORS`: the
    name is the feature set, the implementation the extractor class it builds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_params(self) -> dict[str, Any]:
        """All parameters, defaults included, as JSON-ready values (what a store records)."""
        return self.model_dump(mode="json", exclude={"name"})


def resolve_config(feature_set: str, params: Mapping[str, Any] | None = None) -> FeatureConfig:
    """Validated params of a registered feature set (ValueError naming the key at fault)."""
    try:
        return FEATURE_EXTRACTORS.parse({**(params or {}), "name": feature_set})
    except ValidationError as err:
        header = f"feature set {feature_set!r} parameters"
        raise ValueError(format_validation_error(err, FeatureConfig, header)) from None


def build_extractor(config: FeatureConfig) -> Extractor:
    """The (possibly heavy) extractor `config` names; build once per process."""
    return FEATURE_EXTRACTORS.build(config)
