"""OpenL3 audio embeddings, mean-pooled over time (needs the optional `openl3` package)."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Self

import numpy as np
from pydantic import model_validator

from raysim.features.base import FeatureConfig

OPENL3_SAMPLE_RATE = 48000
MISSING = "the openl3 feature set needs the optional package openl3: pip install raysim[openl3]"


def _require_openl3() -> None:
    if find_spec("openl3") is None:
        raise ImportError(MISSING)


class OpenL3Config(FeatureConfig):
    """OpenL3 model choice; the vector is the mean embedding over `hop_size`-spaced frames."""

    content_type: str = "env"
    input_repr: str = "mel256"
    embedding_size: int = 512
    hop_size: float = 0.1

    @model_validator(mode="after")
    def _check(self) -> Self:
        _require_openl3()
        if self.content_type not in ("env", "music"):
            raise ValueError(f"openl3 content_type {self.content_type!r} not in ('env', 'music')")
        if self.input_repr not in ("linear", "mel128", "mel256"):
            raise ValueError(f"openl3 input_repr {self.input_repr!r} not in linear/mel128/mel256")
        if self.embedding_size not in (512, 6144):
            raise ValueError(f"openl3 embedding_size {self.embedding_size!r} not in (512, 6144)")
        if self.hop_size <= 0:
            raise ValueError(f"openl3 hop_size must be > 0, got {self.hop_size!r}")
        return self


class OpenL3Extractor:
    """Holds one OpenL3 Keras model and embeds 48 kHz waveforms."""

    sample_rate = OPENL3_SAMPLE_RATE
    feature_names: list[str] | None = None

    def __init__(self, config: OpenL3Config):
        _require_openl3()
        import openl3

        self.config = config
        self.dim = config.embedding_size
        self._openl3 = openl3
        self.model = openl3.models.load_audio_embedding_model(
            input_repr=config.input_repr,
            content_type=config.content_type,
            embedding_size=config.embedding_size,
        )

    def process(self, wave: np.ndarray, sr: int) -> np.ndarray:
        """Mean OpenL3 embedding of the waveform."""
        emb, _ = self._openl3.get_audio_embedding(
            wave, sr, model=self.model, hop_size=self.config.hop_size, center=True, verbose=False
        )
        return np.asarray(emb, dtype=np.float32).mean(axis=0)
