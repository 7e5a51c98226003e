"""Mixture consistency projection for waveform separators.

Wisdom et al., "Differentiable consistency constraints for improved deep speech
enhancement", ICASSP 2019: the estimates ŝ_j are shifted by an equal share of the
residual so that they sum to the input mixture x, ŝ_j ← ŝ_j + (x − Σ_k ŝ_k) / J
(uniform weights, as in FedEnhance and the W2 workload).
"""

from __future__ import annotations

import torch


def mixture_consistency(estimates: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
    """Project `estimates` (B, J, T) so that they sum to `mixture` (B, T)."""
    n_src = estimates.shape[1]
    return estimates + (mixture.unsqueeze(1) - estimates.sum(1, keepdim=True)) / n_src
