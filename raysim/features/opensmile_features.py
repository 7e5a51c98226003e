"""OpenSMILE features (eGeMAPSv02, ComParE_2016, emobase): functionals or pooled LLDs."""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
import opensmile
from pydantic import model_validator

from raysim.features.base import FeatureConfig

OPENSMILE_SETS = ("eGeMAPSv02", "ComParE_2016", "emobase")
LEVELS = {
    "functionals": "Functionals",
    "lld": "LowLevelDescriptors",
    "lld_deltas": "LowLevelDescriptors_Deltas",
}


class OpenSmileConfig(FeatureConfig):
    """An OpenSMILE feature set at one level.

    `level="functionals"` gives the set's utterance-level vector (88 values for eGeMAPSv02);
    `"lld"` / `"lld_deltas"` give frame-level descriptors, mean- and std-pooled over time for
    the vector (use :meth:`OpenSmileExtractor.frames` for the frame matrix). Audio is
    resampled to `sample_rate` (None keeps each file's own rate).
    """

    opensmile_set: str = "eGeMAPSv02"
    level: str = "functionals"
    sample_rate: int | None = 16000

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.opensmile_set not in OPENSMILE_SETS:
            raise ValueError(f"opensmile_set {self.opensmile_set!r} not in {OPENSMILE_SETS}")
        if self.level not in LEVELS:
            raise ValueError(f"level {self.level!r} not in {list(LEVELS)}")
        if self.level == "lld_deltas" and self.opensmile_set == "eGeMAPSv02":
            raise ValueError("level 'lld_deltas' is not available for eGeMAPSv02")
        if self.sample_rate is not None and (
            not isinstance(self.sample_rate, int) or self.sample_rate <= 0
        ):
            raise ValueError(f"sample_rate must be a positive int or None: {self.sample_rate!r}")
        return self


class EGeMAPSConfig(OpenSmileConfig):
    opensmile_set: Literal["eGeMAPSv02"] = "eGeMAPSv02"


class ComParEConfig(OpenSmileConfig):
    opensmile_set: Literal["ComParE_2016"] = "ComParE_2016"


class EmobaseConfig(OpenSmileConfig):
    opensmile_set: Literal["emobase"] = "emobase"


class OpenSmileExtractor:
    """Holds one `opensmile.Smile` and turns waveforms into OpenSMILE feature vectors."""

    def __init__(self, config: OpenSmileConfig):
        self.config = config
        self.sample_rate = config.sample_rate
        self.smile = opensmile.Smile(
            feature_set=getattr(opensmile.FeatureSet, config.opensmile_set),
            feature_level=getattr(opensmile.FeatureLevel, LEVELS[config.level]),
        )
        names = list(self.smile.feature_names)
        if config.level == "functionals":
            self.feature_names: list[str] | None = names
        else:
            self.feature_names = [f"{n}_mean" for n in names] + [f"{n}_std" for n in names]
        self.dim = len(self.feature_names)

    def frames(self, wave: np.ndarray, sr: int) -> np.ndarray:
        """Raw OpenSMILE output, (frames, descriptors) float32; one row for functionals."""
        return self.smile.process_signal(wave, sr).to_numpy(dtype=np.float32)

    def process(self, wave: np.ndarray, sr: int) -> np.ndarray:
        """Functionals vector, or LLD mean and std over frames concatenated."""
        out = self.frames(wave, sr)
        if self.config.level == "functionals":
            return out[0]
        if out.shape[0] == 0:
            raise ValueError(f"signal of {wave.size} samples gives no LLD frames (too short)")
        return np.concatenate([out.mean(axis=0), out.std(axis=0)])
