"""Pseudo-label selection of Semi-FedSER (Feng & Narayanan, Interspeech 2022), and the
single-view confidence-threshold variant (FixMatch-style, Sohn et al., NeurIPS 2020).

Multiview: the global model scores V weak-SFA views of each unlabelled sample with
p_v = softmax(logits_v / T). With p̄ the mean over views and ŷ = argmax p̄, a sample
is kept if p̄[ŷ] ≥ τ_t and the standard deviation of p_v[ŷ] across views is below a
bound (0.005); per class at most `per_class_cap` samples (1) are added per client per
round, those with the lowest standard deviation first. τ_t ramps linearly from 0.5
to 0.9 over the first 300 rounds. The single-view variant uses one view, keeps every
sample whose confidence reaches the threshold and has no std bound and no cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from raysim.ser.sfa import sfa


def ramp_threshold(round_idx: int, start: float, end: float, ramp_rounds: int) -> float:
    """τ_t: linear from `start` at round 0 to `end` at `ramp_rounds`, constant after."""
    if ramp_rounds <= 0:
        return end
    return start + (end - start) * min(1.0, round_idx / ramp_rounds)


@torch.no_grad()
def multiview_probs(
    model: nn.Module,
    x: torch.Tensor,
    views: int,
    temperature: float,
    scale_sigma: float,
    noise_sigma: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """(views, N, K) tempered class probabilities of `views` SFA views of `x`, with the
    model in eval mode (no dropout); the model's previous mode is restored."""
    was_training = model.training
    model.eval()
    try:
        logits = [model(sfa(x, scale_sigma, noise_sigma, generator)) for _ in range(views)]
    finally:
        model.train(was_training)
    return torch.softmax(torch.stack(logits) / temperature, dim=-1)


@dataclass
class Selection:
    """Chosen candidates: their positions in the scored rows, labels and view stds."""

    rows: np.ndarray  # int64 positions into the scored rows
    labels: np.ndarray  # int64 pseudo-labels
    std: np.ndarray  # std across views of the chosen class's probability


def select(
    probs: torch.Tensor,
    threshold: float,
    std_bound: float | None = None,
    per_class_cap: int | None = None,
) -> Selection:
    """Pick pseudo-labels from (views, N, K) probabilities.

    Keeps sample i when p̄_i[ŷ_i] ≥ `threshold` and (if `std_bound` is set) the
    across-view std (ddof=0) of p_v,i[ŷ_i] is < `std_bound`; then, if
    `per_class_cap` is set, keeps per class the `per_class_cap` lowest-std samples
    (ties by position). Rows come back sorted by position.
    """
    probs = probs.detach().double().cpu()
    mean = probs.mean(0)
    conf, label = mean.max(1)
    std = probs.std(0, unbiased=False).gather(1, label[:, None])[:, 0]
    keep = conf >= threshold
    if std_bound is not None:
        keep &= std < std_bound
    rows = np.flatnonzero(keep.numpy())
    labels, stds = label.numpy()[rows], std.numpy()[rows]
    if per_class_cap is not None:
        chosen = []
        for k in np.unique(labels):
            in_class = np.flatnonzero(labels == k)
            order = in_class[np.lexsort((rows[in_class], stds[in_class]))]
            chosen.append(order[:per_class_cap])
        picked = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
        rows, labels, stds = rows[picked], labels[picked], stds[picked]
    return Selection(rows.astype(np.int64), labels.astype(np.int64), stds)
