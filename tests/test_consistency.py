"""Consistency-training targets: thresholds, distribution alignment, FreeMatch's
self-adaptive thresholds, sharpening, allowed classes and the weight ramp."""

from __future__ import annotations

import pytest
import torch

from raysim.ser.consistency import (
    align,
    class_thresholds,
    consistency_targets,
    ramp_weight,
    sharpen,
)

PROBS = torch.tensor(
    [
        [0.97, 0.01, 0.01, 0.01],
        [0.6, 0.3, 0.05, 0.05],
        [0.1, 0.85, 0.03, 0.02],
        [0.2, 0.2, 0.5, 0.1],
    ]
)


def targets(**kw):
    base = dict(
        target="hard",
        threshold=0.95,
        threshold_rule="fixed",
        alignment=None,
        sharpen_temperature=0.5,
    )
    return consistency_targets(PROBS, **{**base, **kw})


def test_hard_targets_are_one_hot_argmax_masked_by_the_threshold():
    t = targets()
    assert torch.equal(t.labels, torch.tensor([0, 0, 1, 2]))
    assert torch.equal(t.probs.sum(1), torch.ones(4)) and set(t.probs.flatten().tolist()) == {0, 1}
    assert torch.equal(t.mask, torch.tensor([1.0, 0.0, 0.0, 0.0]))
    assert torch.equal(targets(threshold=0.5).mask, torch.tensor([1.0, 1.0, 1.0, 1.0]))


def test_distribution_alignment_moves_the_mean_prediction_toward_the_target():
    target = torch.full((4,), 0.25, dtype=torch.float64)
    aligned = align(PROBS.double(), target)
    assert torch.allclose(aligned.sum(1), torch.ones(4, dtype=torch.float64))
    before = (PROBS.double().mean(0) - target).abs().sum()
    after = (aligned.mean(0) - target).abs().sum()
    assert after < before
    # a teacher already matching the target is left as it is
    flat = torch.full((3, 4), 0.25, dtype=torch.float64)
    assert torch.allclose(align(flat, target), flat)


def test_self_adaptive_thresholds_follow_freematch():
    probs = PROBS.double()
    taus = class_thresholds(probs, "self_adaptive", threshold=0.95)
    mean = probs.mean(0)
    expected = probs.max(1).values.mean() * mean / mean.max()
    assert torch.allclose(taus, expected)
    assert taus.argmax() == mean.argmax() and taus.max() < 0.95  # below a fixed 0.95 here
    assert torch.equal(
        class_thresholds(probs, "fixed", 0.7), torch.full((4,), 0.7, dtype=probs.dtype)
    )


def test_soft_targets_are_sharpened_and_sum_to_one():
    soft = targets(target="soft", threshold=0.0)
    assert torch.allclose(soft.probs.sum(1), torch.ones(4))
    assert torch.all(soft.probs.max(1).values >= PROBS.max(1).values - 1e-6)
    assert torch.allclose(sharpen(PROBS.double(), 1.0), PROBS.double())
    assert torch.equal(soft.mask, torch.ones(4))


def test_allowed_classes_never_get_probability():
    allowed = torch.tensor([False, True, True, True])
    t = targets(target="soft", threshold=0.0, allowed=allowed)
    assert torch.all(t.probs[:, 0] == 0) and torch.all(t.labels != 0)


@pytest.mark.parametrize(
    "round_idx,ramp,expected",
    [(0, 10, 0.0), (5, 10, 1.0), (10, 10, 2.0), (50, 10, 2.0), (0, 0, 2.0)],
)
def test_ramp_weight_is_linear_then_flat(round_idx, ramp, expected):
    assert ramp_weight(round_idx, 2.0, ramp) == pytest.approx(expected)
