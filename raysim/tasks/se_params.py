"""Parameters of the `speech_enhancement` task (pydantic only: validated on the driver).

Defaults reproduce FedEnhance (Tzinis et al., "Separate but together:
unsupervised federated learning for speech enhancement from non-IID data",
WASPAA 2021): GC Sudo rm -rf with 3 slots (0 = speech), standardised inputs,
supervised loss −SI-SDR(ŝ₀, s) + PIT −SI-SDR of the noise slots, MixIT loss in
FedEnhance's two-assignment form. PULSE (Ito & Sugiyama, ICASSP 2023) is
`model: {name: pulse_cnn}` with the `nnpu` (PU) or `pn` (supervised) objective; W2 is
`model: {name: convtasnet}` with `unsupervised: mixit_general` and SI-SNR.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from raysim.data.se_sources import KIND_NAMES
from raysim.registry import SE_METRICS, SE_MODELS, Params
from raysim.tasks.params import TaskParams


class ObjectivesParams(Params):
    """The loss each client kind trains with (the kind comes from the client's data).

    supervised: ``fedenhance`` (model sees x₁ + x₂; −SI-SDR(ŝ₀, s) + PIT −SI-SDR of
        slots 1–2 against [noise of x₁, x₂]), ``neg_si_sdr`` (model sees x₁;
        −SI-SDR(ŝ₀, s)) or ``pn`` (PULSE's PN baseline, (σ(−z)|X| − |S|)²).
    unsupervised: ``mixit`` (FedEnhance's form, −SI-SDR, slot 0 tied to x₁) or
        ``mixit_general`` (all 2^M assignments, `mixit.pair_loss`).
    pu: ``nnpu`` (PULSE's weighted PU risk, `nnpu` params).
    """

    supervised: Literal["fedenhance", "neg_si_sdr", "pn"] = "fedenhance"
    unsupervised: Literal["mixit", "mixit_general"] = "mixit"
    pu: Literal["nnpu"] = "nnpu"


class MixITParams(Params):
    """General MixIT (Wisdom et al., NeurIPS 2020): the per-mixture loss.

    snr_max: L_SNR with τ = 10^(−30/10) (the paper's); neg_si_snr: −SI-SNR (W2).
    """

    pair_loss: Literal["snr_max", "neg_si_snr"] = "snr_max"


class NNPUParams(Params):
    """PULSE's weighted PU risk (`raysim.se.nnpu_loss`): π = prior, p = weight_power,
    β = beta, γ = gamma, mode nn (non-negative, Kiryo et al. 2017) or unbiased."""

    prior: float = Field(0.6, gt=0, lt=1, description="π, noise prior of unlabelled bins")
    weight_power: float = Field(1.0, ge=0, description="p: bins weighted by |X|^p")
    beta: float = Field(0.0, ge=0, description="β, the non-negativity threshold")
    gamma: float = Field(0.096, gt=0, description="γ, step scale of the correction")
    mode: Literal["nn", "unbiased"] = "nn"


class STFTParams(Params):
    """STFT of the ratio-mask view that lets PU/PN objectives train a waveform
    separator (Hamming window; PULSE uses 1024/256 at 16 kHz)."""

    n_fft: int = Field(512, ge=16)
    hop: int = Field(128, ge=1)


class EvalParams(Params):
    """Server evaluation on held-out mixtures (SI-SDRi is the primary metric)."""

    metrics: list[str] = Field(
        default_factory=lambda: ["si_sdri", "si_sdr", "sdr"],
        description="names registered in raysim.registry.SE_METRICS",
    )
    slot: int | Literal["oracle"] = Field(
        0, description="separator output read as speech (FedEnhance: 0); oracle: best SI-SNR"
    )
    soft_mask: bool = Field(False, description="mask models: σ(−z) instead of PULSE's 1[z < 0]")
    batch_size: int = Field(16, ge=1)

    @field_validator("metrics")
    @classmethod
    def _registered(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in SE_METRICS.names()]
        if unknown:
            raise ValueError(f"unknown SE metrics {unknown}; known: {SE_METRICS.names()}")
        return names


class SEParams(TaskParams):
    """The `speech_enhancement` task."""

    model: SE_MODELS.type = SE_MODELS.field()
    objectives: ObjectivesParams = Field(default_factory=ObjectivesParams)
    mixit: MixITParams = Field(default_factory=MixITParams)
    nnpu: NNPUParams = Field(default_factory=NNPUParams)
    stft: STFTParams = Field(default_factory=STFTParams)
    standardize: bool = Field(
        True, description="separators see each input at zero mean, unit variance (FedEnhance)"
    )
    eval: EvalParams = Field(default_factory=EvalParams)

    def summarize_round(self, counters: dict[str, float]) -> dict[str, float]:
        """Per-kind mean training loss and the share of PU steps in nnPU's γ branch."""
        out: dict[str, float] = {}
        for name in KIND_NAMES.values():
            rows = counters.get(f"rows_{name}", 0.0)
            if rows:
                out[f"train_loss_{name}"] = counters[f"loss_sum_{name}"] / rows
        if counters.get("pu_steps"):
            out["pu_gamma_frac"] = counters["pu_gamma_steps"] / counters["pu_steps"]
        return out
