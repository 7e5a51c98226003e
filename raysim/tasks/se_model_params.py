"""Params of the speech-enhancement models (pydantic only: validated on the driver,
where torch is not imported). Defaults are each model's own (see its class)."""

from __future__ import annotations

from pydantic import Field

from raysim.registry import Named


class SuDORMRFParams(Named):
    """GC Sudo rm -rf (FedEnhance's separator), `raysim.se.models.sudormrf`."""

    n_src: int = Field(3, ge=1, description="output slots (slot 0 = speech)")
    enc_kernel: int = Field(41, ge=3)
    enc_bases: int = Field(512, ge=1)
    bottleneck: int = Field(256, ge=1)
    ublock_channels: int = Field(512, ge=1)
    n_blocks: int = Field(8, ge=1)
    upsampling_depth: int = Field(5, ge=1)
    groups: int = Field(16, ge=1)
    mixture_consistency: bool = True


class ConvTasNetParams(Named):
    """A small Conv-TasNet (W2's separator), `raysim.se.models.convtasnet`."""

    n_src: int = Field(4, ge=1)
    n_filters: int = Field(64, ge=1)
    kernel: int = Field(16, ge=2)
    stride: int = Field(8, ge=1)
    hidden: int = Field(256, ge=1)
    n_blocks: int = Field(4, ge=1)
    mixture_consistency: bool = True


class PulseCNNParams(Named):
    """PULSE's mask CNN over STFT magnitudes, `raysim.se.models.pulse_cnn`."""

    channels: int = Field(8, ge=1)
    blocks: int = Field(2, ge=0)
    dropout: float = Field(0.2, ge=0, lt=1)
    input_scale: float = Field(1 / 15, gt=0, description="the CNN sees |X| times this")
    standardize: bool = Field(True, description="inputs at unit variance (PULSE)")
    n_fft: int = Field(1024, ge=16)
    hop: int = Field(256, ge=1)
