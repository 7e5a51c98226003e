"""Stochastic feature augmentation (SFA) of Semi-FedSER (Feng & Narayanan, Interspeech 2022).

x̃ = x ⊙ ε₁ + ε₂ with ε₁ ~ N(1, σ₁²) and ε₂ ~ N(0, σ₂²) drawn per element; the paper
uses σ₂ = 0.1 and σ₁ = 0.1 (weak) or 0.25 (strong). Weak views feed pseudo-labelling
and labelled training; strong augmentation is applied to pseudo-labelled rows.
"""

from __future__ import annotations

import torch

WEAK_SIGMA = 0.1
STRONG_SIGMA = 0.25
NOISE_SIGMA = 0.1


def sfa(
    x: torch.Tensor,
    scale_sigma: float | torch.Tensor,
    noise_sigma: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """x ⊙ ε₁ + ε₂. `scale_sigma` is a number or a per-row column (N, 1), so weak and
    strong rows can share one batch; all noise comes from `generator` (a CPU generator)."""
    eps1 = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    eps2 = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return x * (1.0 + scale_sigma * eps1) + noise_sigma * eps2
