"""What every feature extractor shares: the extractor protocol, config parsing, the registry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from importlib import import_module
from typing import Any, ClassVar, Protocol, Self

import numpy as np


class Extractor(Protocol):
    """Turns one mono float32 waveform into a fixed-size float32 vector of length `dim`."""

    sample_rate: int | None  # rate the audio must be loaded at; None keeps the file's rate
    dim: int
    feature_names: list[str] | None

    def process(self, wave: np.ndarray, sr: int) -> np.ndarray:
        """Feature vector of one waveform (raise on input it cannot handle)."""
        ...


@dataclass(frozen=True)
class FeatureConfig:
    """Base of the frozen, hashable parameter sets of each extractor family."""

    family: ClassVar[str] = "feature"

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> Self:
        """Build from a plain dict, naming any unknown key and the allowed ones."""
        params = dict(params or {})
        allowed = sorted(f.name for f in fields(cls))
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(f"unknown {cls.family} parameter(s) {unknown}; allowed: {allowed}")
        return cls(**params)

    def to_params(self) -> dict[str, Any]:
        """All parameters, defaults included, as JSON-ready values."""
        return asdict(self)

    def build(self) -> Extractor:
        """The (possibly heavy) extractor object; call once per process."""
        raise NotImplementedError


# feature-set name -> (module in raysim.features, config class, parameters fixed by the name)
_REGISTRY: dict[str, tuple[str, str, dict[str, Any]]] = {
    "egemaps": ("opensmile_features", "OpenSmileConfig", {"opensmile_set": "eGeMAPSv02"}),
    "compare": ("opensmile_features", "OpenSmileConfig", {"opensmile_set": "ComParE_2016"}),
    "emobase": ("opensmile_features", "OpenSmileConfig", {"opensmile_set": "emobase"}),
    "logmel": ("logmel", "LogMelConfig", {}),
    "ssl": ("ssl", "SSLConfig", {}),
    "openl3": ("openl3_features", "OpenL3Config", {}),
}
FEATURE_SETS: tuple[str, ...] = tuple(_REGISTRY)


def resolve_config(feature_set: str, params: Mapping[str, Any] | None = None) -> FeatureConfig:
    """Validated config of a named feature set (see FEATURE_SETS) from user parameters."""
    if feature_set not in _REGISTRY:
        raise ValueError(f"unknown feature set {feature_set!r}; choose one of {list(FEATURE_SETS)}")
    module, cls_name, fixed = _REGISTRY[feature_set]
    params = dict(params or {})
    clash = sorted(k for k in fixed if k in params and params[k] != fixed[k])
    if clash:
        raise ValueError(f"parameter(s) {clash} are fixed by feature set {feature_set!r}: {fixed}")
    cls = getattr(import_module(f"raysim.features.{module}"), cls_name)
    return cls.from_params({**params, **fixed})
