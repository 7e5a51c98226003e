"""Log-mel spectrograms (torchaudio), mean- and std-pooled over time to one vector."""

from __future__ import annotations

from typing import Self

import numpy as np
import torch
import torchaudio.transforms as T
from pydantic import model_validator

from raysim.features.base import FeatureConfig


class LogMelConfig(FeatureConfig):
    """Mel spectrogram settings; the pooled vector has `2 * n_mels` values (means, stds)."""

    sample_rate: int = 16000
    n_mels: int = 64
    n_fft: int = 512
    hop_length: int = 160
    f_min: float = 0.0
    f_max: float | None = None
    log_offset: float = 1e-6

    @model_validator(mode="after")
    def _check(self) -> Self:
        for name in ("sample_rate", "n_mels", "n_fft", "hop_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"logmel {name} must be a positive int, got {value!r}")
        if self.log_offset <= 0:
            raise ValueError(f"logmel log_offset must be > 0, got {self.log_offset!r}")
        return self


class LogMelExtractor:
    """Log-mel frames of a waveform and their time-pooled statistics."""

    def __init__(self, config: LogMelConfig):
        self.config = config
        self.sample_rate = config.sample_rate
        self.dim = 2 * config.n_mels
        self.feature_names: list[str] | None = [
            f"logmel{i}_{stat}" for stat in ("mean", "std") for i in range(config.n_mels)
        ]
        self.mel = T.MelSpectrogram(
            sample_rate=config.sample_rate,
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            f_min=config.f_min,
            f_max=config.f_max,
            n_mels=config.n_mels,
        )

    def frames(self, wave: np.ndarray, sr: int) -> np.ndarray:
        """Log-mel matrix, (n_mels, frames) float32."""
        if sr != self.sample_rate:
            raise ValueError(f"expected audio at {self.sample_rate} Hz, got {sr} Hz")
        if wave.size <= self.config.n_fft // 2:
            raise ValueError(
                f"signal of {wave.size} samples is too short for n_fft={self.config.n_fft}"
            )
        with torch.inference_mode():
            mel = self.mel(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)))
            return torch.log(mel + self.config.log_offset).numpy()

    def process(self, wave: np.ndarray, sr: int) -> np.ndarray:
        """Per-band mean and (population) std over time, concatenated."""
        spec = self.frames(wave, sr)
        return np.concatenate([spec.mean(axis=1), spec.std(axis=1)])
