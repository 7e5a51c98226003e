"""Training losses for speech enhancement: SI-SDR/SI-SNR, PIT, MixIT, PULSE (nnPU, PN).

Conventions: waveforms are (..., T); a *pair loss* maps (estimate, reference) to a
per-item loss over the last axis (lower is better); the composite losses
(`mixit_loss`, `fedenhance_mixit_loss`, `supervised_fedenhance_loss`, `pn_loss`,
`nnpu_loss`) return a scalar to backpropagate, averaged over the batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Literal, NamedTuple

import torch

PairLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(estimate, reference) → per-item loss over the last axis."""

SNR_MAX_TAU = 10 ** (-30 / 10)
"""τ of the thresholded SNR loss: caps the SNR at 30 dB (Wisdom et al. 2020)."""


# ---------------------------------------------------------------------------
# Pair losses
# ---------------------------------------------------------------------------
def neg_si_sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-item −SI-SDR in dB (Le Roux et al., "SDR – half-baked or well done?",
    ICASSP 2019), zero-mean, computed by torchmetrics."""
    # lazy: importing torchmetrics costs ~1 s in every worker that imports this module
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

    return -scale_invariant_signal_distortion_ratio(est, ref, zero_mean=True)


def si_snr(est: torch.Tensor, ref: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per-item SI-SNR in dB, the benchmark workloads' (asteroid's) formulation.

    Means removed, projection p = <ŝ, s> s / (‖s‖² + eps), error e = ŝ − p,
    SI-SNR = 10 log10(‖p‖² / (‖e‖² + eps) + eps). An all-zero estimate scores
    10 log10(eps) = −80 dB, so MixIT with −SI-SNR never picks an assignment that
    leaves a mixture without sources. Bit-identical to `workloads.si_snr`.
    """
    est = est - est.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    proj = (est * ref).sum(-1, keepdim=True) * ref / (ref.pow(2).sum(-1, keepdim=True) + eps)
    err = est - proj
    return 10 * torch.log10(proj.pow(2).sum(-1) / (err.pow(2).sum(-1) + eps) + eps)


def neg_si_snr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-item −SI-SNR in dB (`si_snr` with its default eps)."""
    return -si_snr(est, ref)


def snr_max_loss(est: torch.Tensor, ref: torch.Tensor, tau: float = SNR_MAX_TAU) -> torch.Tensor:
    """Per-item thresholded negative SNR of MixIT (Wisdom et al., NeurIPS 2020):
    L_SNR(y, ŷ) = 10 log10(‖y − ŷ‖² + τ‖y‖²) − 10 log10 ‖y‖², y = `ref`, ŷ = `est`.

    τ = 10^(−30/10) caps the SNR at 30 dB. The reference must not be silent.
    """
    ref_energy = ref.pow(2).sum(-1)
    err_energy = (ref - est).pow(2).sum(-1)
    return 10 * torch.log10(err_energy + tau * ref_energy) - 10 * torch.log10(ref_energy)


def pit_neg_si_sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-item permutation-invariant −SI-SDR: est, ref (B, J, T) → (B,).

    The source order of `est` that maximises the mean SI-SDR over the J sources
    (torchmetrics `permutation_invariant_training`, speaker-wise), negated.
    """
    from torchmetrics.functional.audio import (
        permutation_invariant_training,
        scale_invariant_signal_distortion_ratio,
    )

    best, _ = permutation_invariant_training(
        est,
        ref,
        scale_invariant_signal_distortion_ratio,
        mode="speaker-wise",
        eval_func="max",
        zero_mean=True,
    )
    return -best


# ---------------------------------------------------------------------------
# MixIT
# ---------------------------------------------------------------------------
def mixit_assignments(n_src: int, n_mix: int = 2) -> torch.Tensor:
    """All n_mix^n_src assignments of sources to mixtures as a 0/1 tensor A (K, n_mix, n_src).

    A[k, i, j] = 1 iff source j goes to mixture i; every source goes to exactly one
    mixture. Assignment k lists each source's mixture as the base-n_mix digits of k
    (first source most significant), the order of `workloads._MIXIT_A` for n_mix = 2.
    """
    choice = torch.tensor(list(itertools.product(range(n_mix), repeat=n_src)))  # (K, n_src)
    return (choice.unsqueeze(1) == torch.arange(n_mix).view(1, -1, 1)).float()


FEDENHANCE_ASSIGNMENTS = torch.tensor(
    [[[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]]
)
"""FedEnhance's two MixIT assignments (2, 2, 3): slot 0 (speech) always goes to x₁."""


def mixit_loss(
    est: torch.Tensor,
    mixtures: torch.Tensor,
    pair_loss: PairLoss = snr_max_loss,
    assignments: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mixture invariant training loss (Wisdom et al., "Unsupervised sound separation
    using mixture invariant training", NeurIPS 2020), batch mean of

        L = min_A Σ_i pair_loss([A ŝ]_i, x_i).

    Args:
        est: ŝ, the M separated sources (B, M, T) of the input x₁ + … + x_N.
        mixtures: the reference mixtures x_i, (B, N, T).
        pair_loss: per-item loss; the default is MixIT's thresholded SNR L_SNR.
            `neg_si_snr` gives the W2 workload's loss (`workloads.mixit_loss`).
        assignments: the candidate A, (K, N, M) 0/1; default all N^M of
            `mixit_assignments` (2^M for two mixtures).
    """
    if assignments is None:
        assignments = mixit_assignments(est.shape[1], mixtures.shape[1])
    remix = torch.einsum("kms,bst->bkmt", assignments.to(est), est)  # (B, K, N, T)
    ref = mixtures.unsqueeze(1).expand_as(remix)
    return pair_loss(remix, ref).sum(-1).min(1).values.mean()


def fedenhance_mixit_loss(
    est: torch.Tensor, noisy: torch.Tensor, extra_noise: torch.Tensor
) -> torch.Tensor:
    """FedEnhance's unsupervised loss (Tzinis et al., WASPAA 2021), batch mean of

        L = min{ℓ(ŝ₀+ŝ₁, x₁) + ℓ(ŝ₂, x₂), ℓ(ŝ₀+ŝ₂, x₁) + ℓ(ŝ₁, x₂)},  ℓ = −SI-SDR.

    Args:
        est: ŝ (B, 3, T), the model's output for x₁ + x₂ (slot 0 = speech).
        noisy: x₁ (B, T), the noisy recording (speech + noise).
        extra_noise: x₂ (B, T), the extra noise clip.

    The released FedEnhance code also clamps each term to ±50 dB and drops terms
    whose reference is silent; that is not done here.
    """
    mixtures = torch.stack([noisy, extra_noise], 1)
    return mixit_loss(est, mixtures, neg_si_sdr, FEDENHANCE_ASSIGNMENTS)


def supervised_fedenhance_loss(
    est: torch.Tensor, speech: torch.Tensor, noises: torch.Tensor
) -> torch.Tensor:
    """FedEnhance's supervised loss, batch mean of −SI-SDR(ŝ₀, speech) plus the
    permutation-invariant −SI-SDR (mean over sources) of slots 1–2 against the noises.

    Args:
        est: ŝ (B, 3, T).
        speech: clean speech (B, T).
        noises: the two noise sources (B, 2, T).
    """
    return (neg_si_sdr(est[:, 0], speech) + pit_neg_si_sdr(est[:, 1:], noises)).mean()


# ---------------------------------------------------------------------------
# PULSE: PU learning on spectrogram bins (positive = noise, z > 0 means noise)
# ---------------------------------------------------------------------------
class PURisk(NamedTuple):
    """Result of `nnpu_loss`.

    loss: the objective to backpropagate (see `branch`).
    risk_pos: R⁺; risk_neg: R⁻ (both differentiable).
    branch: "unbiased" (loss = R⁺ + R⁻, unbiased mode), "risk" (nn mode with
        R⁻ > β: loss = R⁺ + R⁻) or "gamma" (nn mode with R⁻ ≤ β: loss = γ(β − R⁻),
        whose gradient is −γ∇R⁻, i.e. a step that increases R⁻ back towards β).
    """

    loss: torch.Tensor
    risk_pos: torch.Tensor
    risk_neg: torch.Tensor
    branch: Literal["unbiased", "risk", "gamma"]


def nnpu_loss(
    logits: torch.Tensor,
    noisy_mag: torch.Tensor,
    positive: torch.Tensor,
    prior: float = 0.6,
    weight_power: float = 1.0,
    beta: float = 0.0,
    gamma: float = 0.096,
    mode: Literal["nn", "unbiased"] = "nn",
) -> PURisk:
    """PULSE's weighted PU risk (Ito & Sugiyama, ICASSP 2023) with the non-negative
    correction of Kiryo et al., "Positive-unlabeled learning with non-negative risk
    estimator", NeurIPS 2017.

    With ℓ(z) = σ(−z), w = (|X| + 1e-7)^p, P the positive (noise-only) bins and U the
    unlabelled (noisy-speech) bins of the batch:
        R⁺ = π Σ_P ℓ(z) w / |P|,
        R⁻ = Σ_U ℓ(−z) w / |U| − π Σ_P ℓ(−z) w / |P|.
    nn mode: loss = R⁺ + R⁻ if R⁻ > β, else γ(β − R⁻) (Kiryo et al.'s Algorithm 1:
    the step follows −γ∇R⁻; the returned value is γ(β − R⁻) ≥ 0, not a risk
    estimate, so log `risk_pos + risk_neg` for that). unbiased mode: R⁺ + R⁻.

    Args:
        logits: z (B, F, frames); z > 0 = noise, the enhancement mask is 1[z < 0].
        noisy_mag: |X| (B, F, frames), the input magnitude weighting each bin.
        positive: 1/True for positive (noise-only) items, per item (B,) or per bin.
        prior: π, the noise class prior of the unlabelled bins (0.6 VoiceBank, 0.7 TIMIT).
        weight_power: p (1 = PULSE's weighting, 0 = unweighted).
        beta: β, the non-negativity threshold (0).
        gamma: γ, the step scale of the correction (0.096).
        mode: "nn" (non-negative) or "unbiased".
    """
    y = positive.to(logits.dtype)
    if y.dim() == 1:
        y = y.view(-1, *([1] * (logits.dim() - 1)))
    y = y.expand_as(logits)
    eps = 1e-7
    w = (noisy_mag + eps) ** weight_power
    n_pos, n_unl = y.sum() + eps, (1 - y).sum() + eps
    loss_pos, loss_neg = torch.sigmoid(-logits) * w, torch.sigmoid(logits) * w  # ℓ(z)w, ℓ(−z)w
    risk_pos = prior * (y * loss_pos).sum() / n_pos
    risk_neg = ((1 - y) * loss_neg).sum() / n_unl - prior * (y * loss_neg).sum() / n_pos
    if mode == "unbiased":
        return PURisk(risk_pos + risk_neg, risk_pos, risk_neg, "unbiased")
    if mode != "nn":
        raise ValueError(f"mode must be 'nn' or 'unbiased', got {mode!r}")
    if risk_neg > beta:
        return PURisk(risk_pos + risk_neg, risk_pos, risk_neg, "risk")
    return PURisk(gamma * (beta - risk_neg), risk_pos, risk_neg, "gamma")


def pn_loss(logits: torch.Tensor, noisy_mag: torch.Tensor, clean_mag: torch.Tensor) -> torch.Tensor:
    """PULSE's supervised (PN) baseline, signal approximation: mean (σ(−z)|X| − |S|)².

    METHODS.md writes (σ(z)|X| − |S|)² for a network whose logit is large on speech.
    Here z keeps the PU sign (z > 0 = noise, hard mask 1[z < 0]), so the speech mask
    is σ(−z); use `PulseCNN.enhance(..., soft=True)` for the matching soft mask.

    Args:
        logits: z (B, F, frames).
        noisy_mag: |X|, the noisy magnitude.
        clean_mag: |S|, the clean-speech magnitude.
    """
    return (torch.sigmoid(-logits) * noisy_mag - clean_mag).pow(2).mean()
