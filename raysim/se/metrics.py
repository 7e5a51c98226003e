"""Enhancement metrics: SI-SDR, SI-SDRi (primary), SDR, PESQ, STOI, and a batch evaluator.

All per-item functions take (B, T) tensors and return (B,), NaN where the metric is
undefined for an item (PESQ on a clip under 0.25 s or with no speech, SDR of a
silent estimate), so one bad item never sinks a whole evaluation. SI-SDR, SDR, PESQ and
STOI come from torchmetrics; PESQ and STOI need the optional `pesq` / `pystoi`
packages (`pip install raysim[metrics]`). "si_snr"/"si_snri" use the benchmark
workloads' SI-SNR formulation, so that `evaluate_enhancement(..., slot="oracle")`
reproduces `workloads.eval_w2`.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from typing import Literal

import torch

from raysim.registry import SE_METRICS
from raysim.se.losses import si_snr


def _require(package: str, metric: str) -> None:
    if importlib.util.find_spec(package) is None:
        raise ImportError(
            f"{metric} needs the optional package {package!r}: pip install raysim[metrics]"
        )


def si_sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """SI-SDR in dB (Le Roux et al., ICASSP 2019), zero-mean."""
    # lazy: importing torchmetrics costs ~1 s in every process that imports this module
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

    return scale_invariant_signal_distortion_ratio(est, ref, zero_mean=True)


def si_sdri(est: torch.Tensor, ref: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """SI-SDR improvement in dB: SI-SDR(est, ref) − SI-SDR(noisy, ref)."""
    return si_sdr(est, ref) - si_sdr(noisy, ref)


def sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """SDR in dB (BSS-eval style with a 512-tap distortion filter, torchmetrics);
    NaN for a silent estimate, whose filter system is singular (torchmetrics then
    gives −inf, or fails the whole batch)."""
    from torchmetrics.functional.audio import signal_distortion_ratio

    out = torch.full(est.shape[:-1], torch.nan, dtype=torch.float32, device=est.device)
    scorable = est.abs().amax(-1) > 0
    if scorable.any():
        out[scorable] = signal_distortion_ratio(est[scorable], ref[scorable]).float()
    return torch.where(torch.isfinite(out), out, torch.nan)


def pesq(est: torch.Tensor, ref: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """PESQ (ITU-T P.862): wide-band at 16 kHz, narrow-band at 8 kHz. Needs `pesq`.
    NaN for an item PESQ cannot score (shorter than 0.25 s, no utterance found)."""
    _require("pesq", "PESQ")
    from pesq import BufferTooShortError, NoUtterancesError
    from torchmetrics.functional.audio import perceptual_evaluation_speech_quality

    mode = "wb" if sample_rate == 16000 else "nb"
    scores = []
    for e, r in zip(est.reshape(-1, est.shape[-1]), ref.reshape(-1, ref.shape[-1]), strict=True):
        try:
            scores.append(float(perceptual_evaluation_speech_quality(e, r, sample_rate, mode)))
        except (BufferTooShortError, NoUtterancesError):
            scores.append(float("nan"))
    return torch.tensor(scores).reshape(est.shape[:-1])


#: what pystoi returns, with a warning, for an item it cannot score: fewer than 30 STFT
#: frames (384 ms at 10 kHz) left after its silent-frame removal, or a silent reference
PYSTOI_UNDEFINED = 1e-5


def stoi(est: torch.Tensor, ref: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """STOI (Taal et al. 2011). Needs `pystoi`. NaN for an item STOI cannot score (too
    short once silent frames are removed, or silent), never pystoi's 1e-5 stand-in."""
    _require("pystoi", "STOI")
    from torchmetrics.functional.audio import short_time_objective_intelligibility

    with warnings.catch_warnings():  # the NaNs say it, per item; the caller counts them
        warnings.filterwarnings("ignore", message="Not enough STFT frames")
        scores = short_time_objective_intelligibility(est, ref, sample_rate).double()
    stand_in = (scores - PYSTOI_UNDEFINED).abs() < 1e-9  # whatever float type it came back in
    return torch.where(stand_in, torch.nan, scores).float()


# The registered form (`raysim.registry.SE_METRICS`): fn(estimate, clean, noisy, rate) → (B,)
def score_si_sdr(est: torch.Tensor, ref: torch.Tensor, noisy: torch.Tensor, sr: int):
    return si_sdr(est, ref)


def score_si_sdri(est: torch.Tensor, ref: torch.Tensor, noisy: torch.Tensor, sr: int):
    return si_sdri(est, ref, noisy)


def score_si_snr(est: torch.Tensor, ref: torch.Tensor, noisy: torch.Tensor, sr: int):
    return si_snr(est, ref)


def score_si_snri(est: torch.Tensor, ref: torch.Tensor, noisy: torch.Tensor, sr: int):
    return si_snr(est, ref) - si_snr(noisy, ref)


def score_sdr(est: torch.Tensor, ref: torch.Tensor, noisy: torch.Tensor, sr: int):
    return sdr(est, ref)


def score_pesq(est: torch.Tensor, ref: torch.Tensor, noisy: torch.Tensor, sr: int):
    return pesq(est, ref, sr)


def score_stoi(est: torch.Tensor, ref: torch.Tensor, noisy: torch.Tensor, sr: int):
    return stoi(est, ref, sr)


_OPTIONAL = {"pesq": "pesq", "stoi": "pystoi"}
UNDEFINABLE = frozenset({"sdr", "pesq", "stoi"})
"""Metrics that can be undefined for an item (NaN); evaluations count the defined ones."""
_OWN = {"si_snr", "si_snri"}  # computed by raysim.se.losses, no torchmetrics


def needs_torchmetrics(metrics: Sequence[str]) -> bool:
    """Whether computing `metrics` imports torchmetrics (~1 s the first time)."""
    return any(m not in _OWN for m in metrics)


def select_slot(
    estimates: torch.Tensor, clean: torch.Tensor, slot: int | Literal["oracle"] = 0
) -> torch.Tensor:
    """Pick one output slot per item: estimates (B, J, T) → (B, T); (B, T) passes through.

    slot: a fixed index (FedEnhance reads speech from slot 0), or "oracle": the slot
    with the highest SI-SNR against the clean speech, as `workloads.eval_w2` does.
    """
    if estimates.dim() == 2:
        return estimates
    if slot != "oracle":
        return estimates[:, slot]
    best = si_snr(estimates, clean.unsqueeze(1).expand_as(estimates)).argmax(1)
    return estimates[torch.arange(len(estimates)), best]


UNCHANGED_TOLERANCE_DB = -60.0
"""An output within this much of its input's energy (‖ŝ − x‖² / ‖x‖²) is unchanged."""


def unchanged(est: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """Per item (B,): True where the estimate equals the input within
    `UNCHANGED_TOLERANCE_DB` (an all-ones mask, an identity separator)."""
    err = (est - noisy).pow(2).sum(-1)
    return err <= noisy.pow(2).sum(-1) * 10 ** (UNCHANGED_TOLERANCE_DB / 10)


@torch.no_grad()
def enhancement_scores(
    estimates: torch.Tensor,
    clean: torch.Tensor,
    noisy: torch.Tensor,
    sample_rate: int,
    metrics: Sequence[str] = ("si_sdr", "si_sdri"),
    slot: int | Literal["oracle"] = 0,
) -> dict[str, torch.Tensor]:
    """Each metric per item, (B,) on the CPU, NaN where undefined. Arguments as
    :func:`evaluate_enhancement`."""
    unknown = [m for m in metrics if m not in SE_METRICS.names()]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {SE_METRICS.names()}")
    for name in metrics:
        if name in _OPTIONAL:
            _require(_OPTIONAL[name], name.upper())
    est = select_slot(estimates, clean, slot)
    return {m: SE_METRICS.impl(m)(est, clean, noisy, sample_rate).float().cpu() for m in metrics}


def evaluate_enhancement(
    estimates: torch.Tensor,
    clean: torch.Tensor,
    noisy: torch.Tensor,
    sample_rate: int,
    metrics: Sequence[str] = ("si_sdr", "si_sdri"),
    slot: int | Literal["oracle"] = 0,
) -> dict[str, float]:
    """Mean of each metric over the batch's items where it is defined (NaN if none).

    Args:
        estimates: enhanced speech (B, T), or separator outputs (B, J, T) reduced
            with `select_slot(estimates, clean, slot)`.
        clean: clean speech (B, T).
        noisy: the unprocessed input (B, T), the baseline of the "…i" metrics.
        sample_rate: Hz (PESQ/STOI).
        metrics: names registered in `raysim.registry.SE_METRICS`.
        slot: output slot or "oracle" (see `select_slot`).
    """
    scores = enhancement_scores(estimates, clean, noisy, sample_rate, metrics, slot)
    return {m: float(torch.nanmean(v)) for m, v in scores.items()}
