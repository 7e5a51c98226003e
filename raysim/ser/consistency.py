"""Consistency-training targets for the unlabelled rows of a client.

The teacher is the round's global model (in federated learning the average over clients
plays the part of mean teacher's average over steps): its class probabilities, averaged
over weak-SFA views, give every unlabelled row a target, and the student (the local
model) is trained to predict that target on a strongly augmented view of the row. The
options combine the semi-supervised methods this is built from:

- hard targets above a confidence threshold: FixMatch (Sohn et al., NeurIPS 2020);
- distribution alignment: the probabilities scaled by target class distribution /
  their mean over the unlabelled rows, then renormalised (ReMixMatch, Berthelot et al.,
  ICLR 2020), so a teacher biased toward some classes is not copied;
- self-adaptive thresholds: the global threshold is the mean top confidence over the
  rows, scaled per class by the class's mean probability over the largest one
  (FreeMatch, Wang et al., ICLR 2023; here estimated per client and round instead of
  by an EMA over steps, since a client sees its rows once a round);
- soft targets p^(1/T) renormalised, no threshold needed (MixMatch's sharpening, the
  soft consistency of mean teacher / UDA), with a ramped weight (Tarvainen & Valpola,
  NeurIPS 2017).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch


@dataclass
class Targets:
    """Per unlabelled row: the target distribution (N, K) and its weight mask (N,)."""

    probs: torch.Tensor
    mask: torch.Tensor  # 1.0 where the row's target passed the threshold, else 0.0

    @property
    def labels(self) -> torch.Tensor:
        """The targets' argmax classes."""
        return self.probs.argmax(1)


def align(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Distribution alignment: `probs` (N, K) × target / mean(probs), rows renormalised."""
    scaled = probs * (target / probs.mean(0).clamp(min=1e-12))
    return scaled / scaled.sum(1, keepdim=True).clamp(min=1e-12)


def class_thresholds(
    probs: torch.Tensor, rule: Literal["fixed", "self_adaptive"], threshold: float
) -> torch.Tensor:
    """(K,) thresholds: `threshold` for every class, or FreeMatch's self-adaptive
    τ_c = mean_i max_k p_ik · p̄_c / max_k p̄_k (p̄: the mean probability vector)."""
    k = probs.shape[1]
    if rule == "fixed":
        return torch.full((k,), threshold, dtype=probs.dtype)
    global_tau = probs.max(1).values.mean()
    mean = probs.mean(0)
    return global_tau * mean / mean.max()


def sharpen(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """p^(1/T), rows renormalised (T < 1 sharpens)."""
    powered = probs ** (1.0 / temperature)  # T <= 1: a zero stays zero
    return powered / powered.sum(1, keepdim=True).clamp(min=1e-12)


def consistency_targets(
    teacher_probs: torch.Tensor,
    *,
    target: Literal["hard", "soft"],
    threshold: float,
    threshold_rule: Literal["fixed", "self_adaptive"],
    alignment: torch.Tensor | None,
    sharpen_temperature: float,
    allowed: torch.Tensor | None = None,
) -> Targets:
    """Targets of the unlabelled rows from the teacher's (N, K) probabilities.

    `alignment`: the (K,) class distribution to align to (None: no alignment).
    `allowed`: a (K,) bool mask of the classes a target may take (None: all); the
    probability of the other classes is zeroed before anything else, so a client never
    teaches a class it holds no labelled row of.
    """
    probs = teacher_probs.double()
    if allowed is not None:
        probs = probs * allowed.to(probs.dtype)
        probs = probs / probs.sum(1, keepdim=True).clamp(min=1e-12)
    if alignment is not None:
        probs = align(probs, alignment.to(probs.dtype))
    taus = class_thresholds(probs, threshold_rule, threshold)
    conf, label = probs.max(1)
    mask = (conf >= taus[label]).double()
    if target == "hard":
        out = torch.nn.functional.one_hot(label, probs.shape[1]).double()
    else:
        out = sharpen(probs, sharpen_temperature)
    return Targets(out.float(), mask.float())


def ramp_weight(round_idx: int, weight: float, ramp_rounds: int) -> float:
    """λ_u at a round: linear from 0 at round 0 to `weight` at `ramp_rounds` (no ramp: 0)."""
    if ramp_rounds <= 0:
        return weight
    return weight * min(1.0, round_idx / ramp_rounds)
