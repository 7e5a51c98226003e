"""Self-supervised speech embeddings (wav2vec2 / HuBERT / WavLM) from a local checkpoint.

A checkpoint is one file written by :func:`save_ssl_checkpoint`: the torchaudio builder
name, its keyword arguments and the model's state_dict. It is read back with
``torch.load(weights_only=True)``; nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch
import torchaudio.models
from pydantic import model_validator

from raysim.features.base import FeatureConfig

CHECKPOINT_FORMAT = "raysim.ssl/1"
SSL_SAMPLE_RATE = 16000
BUILDERS = (
    "wav2vec2_model",
    "wav2vec2_base",
    "wav2vec2_large",
    "wav2vec2_large_lv60k",
    "hubert_base",
    "hubert_large",
    "hubert_xlarge",
    "wavlm_model",
    "wavlm_base",
    "wavlm_large",
)


def _build_model(builder: str, kwargs: Mapping[str, Any], where: str) -> torch.nn.Module:
    if builder not in BUILDERS:
        raise ValueError(f"{where}: builder {builder!r} not in {BUILDERS}")
    try:
        return getattr(torchaudio.models, builder)(**kwargs)
    except TypeError as err:
        raise ValueError(f"{where}: bad kwargs for torchaudio.models.{builder}: {err}") from err


def save_ssl_checkpoint(
    model: torch.nn.Module, config: Mapping[str, Any], path: str | Path
) -> Path:
    """Store `model` with the torchaudio builder that recreates it, as one local file.

    `config` is ``{"builder": "wav2vec2_model", "kwargs": {...}}`` where `builder` names a
    function of ``torchaudio.models`` (see BUILDERS) and `kwargs` its arguments. The
    state_dict is checked to load into a freshly built model before anything is written.
    """
    path = Path(path)
    unknown = sorted(set(config) - {"builder", "kwargs"})
    if unknown or "builder" not in config:
        raise ValueError(f"SSL config needs 'builder' and optional 'kwargs'; got {list(config)}")
    builder, kwargs = str(config["builder"]), dict(config.get("kwargs", {}))
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _build_model(builder, kwargs, str(path)).load_state_dict(state, strict=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"format": CHECKPOINT_FORMAT, "builder": builder, "kwargs": kwargs, "state_dict": state},
        path,
    )
    return path


def load_ssl_checkpoint(path: str | Path) -> torch.nn.Module:
    """The model stored by :func:`save_ssl_checkpoint`, in eval mode on CPU."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SSL checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path}: not a loadable SSL checkpoint ({err})") from err
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a raysim SSL checkpoint (write it with save_ssl_checkpoint)")
    model = _build_model(payload["builder"], payload["kwargs"], str(path))
    model.load_state_dict(payload["state_dict"], strict=True)
    return model.eval()


class SSLConfig(FeatureConfig):
    """Mean-pooled output of transformer layer `layer` (negative counts from the last)."""

    checkpoint: str = ""
    layer: int = -1
    normalize: bool = False  # zero-mean / unit-variance input, as some checkpoints expect

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.checkpoint:
            raise ValueError("ssl feature set needs params['checkpoint'] (a local file path)")
        path = Path(self.checkpoint).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"SSL checkpoint not found: {path}")
        object.__setattr__(self, "checkpoint", str(path))
        if not isinstance(self.layer, int):
            raise ValueError(f"ssl layer must be an int, got {self.layer!r}")
        return self


class SSLExtractor:
    """Embeds 16 kHz waveforms with one transformer layer of a wav2vec2-family model."""

    sample_rate = SSL_SAMPLE_RATE
    feature_names: list[str] | None = None

    def __init__(self, config: SSLConfig):
        self.config = config
        self.model = load_ssl_checkpoint(config.checkpoint)
        n_layers = len(self.model.encoder.transformer.layers)
        if not -n_layers <= config.layer < n_layers:
            raise ValueError(
                f"layer {config.layer} out of range for {config.checkpoint} "
                f"({n_layers} transformer layers)"
            )
        self.layer = config.layer % n_layers
        self.dim = self.model.encoder.feature_projection.projection.out_features

    def process(self, wave: np.ndarray, sr: int) -> np.ndarray:
        """Time-averaged hidden states of the chosen layer."""
        if sr != self.sample_rate:
            raise ValueError(f"expected audio at {self.sample_rate} Hz, got {sr} Hz")
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None]
            if self.config.normalize:
                x = torch.nn.functional.layer_norm(x, x.shape)
            layers, _ = self.model.extract_features(x, num_layers=self.layer + 1)
            return layers[self.layer][0].mean(dim=0).numpy()
