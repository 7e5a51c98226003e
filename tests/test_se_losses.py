"""SE losses: SI-SNR, PIT, MixIT (all forms), PULSE nnPU and PN."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from raysim.se.losses import (
    FEDENHANCE_ASSIGNMENTS,
    fedenhance_mixit_loss,
    mixit_assignments,
    mixit_loss,
    neg_si_sdr,
    neg_si_snr,
    nnpu_loss,
    pit_neg_si_sdr,
    pn_loss,
    si_snr,
    snr_max_loss,
    supervised_fedenhance_loss,
)


# --------------------------------------------------------------------------- SI-SNR / SNR
def test_si_snr_matches_torchmetrics_and_floors_silent_estimates(gen):
    from torchmetrics.functional.audio import scale_invariant_signal_noise_ratio

    est, ref = torch.randn(3, 4, 500, generator=gen), torch.randn(3, 4, 500, generator=gen)
    expected = scale_invariant_signal_noise_ratio(est, ref)
    torch.testing.assert_close(si_snr(est, ref), expected, atol=1e-4, rtol=1e-4)
    zero = si_snr(torch.zeros(2, 500), ref[0, :2])
    torch.testing.assert_close(zero, torch.full((2,), -80.0))


def test_si_snr_is_scale_invariant_and_sign_correct(gen):
    ref = torch.randn(4, 400, generator=gen)
    est = ref + 0.1 * torch.randn(4, 400, generator=gen)
    torch.testing.assert_close(si_snr(7.0 * est, ref), si_snr(est, ref), atol=1e-4, rtol=0)
    assert (si_snr(est, ref) > 15).all()
    torch.testing.assert_close(neg_si_snr(est, ref), -si_snr(est, ref))


def test_snr_max_loss_formula_and_cap(gen):
    ref = torch.randn(2, 300, generator=gen, dtype=torch.float64)
    est = ref + 0.3 * torch.randn(2, 300, generator=gen, dtype=torch.float64)
    y, yh = ref.numpy(), est.numpy()
    tau = 10 ** (-3.0)
    expected = 10 * np.log10(((y - yh) ** 2).sum(-1) + tau * (y**2).sum(-1)) - 10 * np.log10(
        (y**2).sum(-1)
    )
    np.testing.assert_allclose(snr_max_loss(est, ref).numpy(), expected, rtol=1e-12)
    # a perfect estimate is capped at SNR 30 dB
    np.testing.assert_allclose(snr_max_loss(ref, ref).numpy(), [-30.0, -30.0], rtol=1e-12)


# --------------------------------------------------------------------------- PIT
def test_pit_is_permutation_invariant_and_picks_best(gen):
    ref = torch.randn(2, 3, 400, generator=gen)
    est = ref[:, [2, 0, 1]] + 0.5 * torch.randn(2, 3, 400, generator=gen)
    loss = pit_neg_si_sdr(est, ref)
    for perm in itertools.permutations(range(3)):
        torch.testing.assert_close(pit_neg_si_sdr(est[:, list(perm)], ref), loss)
    brute = (
        torch.stack(
            [neg_si_sdr(est[:, list(p)], ref).mean(-1) for p in itertools.permutations(range(3))]
        )
        .min(0)
        .values
    )
    torch.testing.assert_close(loss, brute)
    # the identity order is wrong here and scores worse
    assert (neg_si_sdr(est, ref).mean(-1) > loss + 5).all()


# --------------------------------------------------------------------------- MixIT
def test_mixit_assignments_cover_all():
    a = mixit_assignments(4)
    assert a.shape == (16, 2, 4)
    assert torch.equal(a.sum(1), torch.ones(16, 4))  # each source in exactly one mixture
    assert len({tuple(x.flatten().tolist()) for x in a}) == 16
    assert mixit_assignments(3, n_mix=3).shape == (27, 3, 3)


def test_mixit_picks_the_best_assignment(gen):
    src = torch.randn(1, 4, 600, generator=gen)
    mixtures = torch.stack([src[:, 0] + src[:, 2], src[:, 1] + src[:, 3]], 1)
    est = src[:, [2, 3, 0, 1]]  # a permutation of the true sources
    loss = mixit_loss(est, mixtures)
    values = {}
    for a in mixit_assignments(4):
        remix = torch.einsum("ms,bst->bmt", a, est)
        values[tuple(a[1].int().tolist())] = float(snr_max_loss(remix, mixtures).sum())
    # sources 0 and 2 of `est` are true sources 2 and 0 → mixture 0; 1 and 3 → mixture 1
    best = values[(0, 1, 0, 1)]
    assert best == pytest.approx(-60.0, abs=1e-3)  # two mixtures, each capped at 30 dB
    assert float(loss) == pytest.approx(min(values.values()), abs=1e-5)
    assert float(loss) == pytest.approx(best, abs=1e-5)
    assert values[(1, 0, 0, 1)] > best + 20  # a wrong assignment scores much worse


def test_mixit_with_neg_si_snr_is_the_best_assignment_per_item(gen):
    est = torch.randn(3, 4, 800, generator=gen)
    mixtures = torch.randn(3, 2, 800, generator=gen)
    per_assignment = torch.stack(
        [
            neg_si_snr(torch.einsum("ms,bst->bmt", a, est), mixtures).sum(-1)
            for a in mixit_assignments(4)
        ]
    )
    expected = per_assignment.min(0).values.mean()
    torch.testing.assert_close(mixit_loss(est, mixtures, neg_si_snr), expected)


def test_fedenhance_mixit_chooses_the_right_noise_slot(gen):
    speech, noise, extra = (torch.randn(2, 600, generator=gen) for _ in range(3))
    noisy = speech + noise
    est = torch.stack([speech, extra, noise], 1) + 0.05 * torch.randn(2, 3, 600, generator=gen)
    loss = fedenhance_mixit_loss(est, noisy, extra)
    right = neg_si_sdr(est[:, 0] + est[:, 2], noisy) + neg_si_sdr(est[:, 1], extra)
    wrong = neg_si_sdr(est[:, 0] + est[:, 1], noisy) + neg_si_sdr(est[:, 2], extra)
    torch.testing.assert_close(loss, right.mean())
    assert (wrong > right + 20).all()
    # the two noise slots are interchangeable; the extra noise must not sit in slot 0
    torch.testing.assert_close(fedenhance_mixit_loss(est[:, [0, 2, 1]], noisy, extra), loss)
    assert fedenhance_mixit_loss(est[:, [1, 0, 2]], noisy, extra) > loss + 10
    assert FEDENHANCE_ASSIGNMENTS.shape == (2, 2, 3)


def test_supervised_fedenhance_loss(gen):
    speech = torch.randn(2, 500, generator=gen)
    noises = torch.randn(2, 2, 500, generator=gen)
    est = torch.cat([speech[:, None], noises[:, [1, 0]]], 1) + 0.1 * torch.randn(
        2, 3, 500, generator=gen
    )
    loss = supervised_fedenhance_loss(est, speech, noises)
    expected = neg_si_sdr(est[:, 0], speech) + neg_si_sdr(est[:, [2, 1]], noises).mean(-1)
    torch.testing.assert_close(loss, expected.mean())
    torch.testing.assert_close(supervised_fedenhance_loss(est[:, [0, 2, 1]], speech, noises), loss)
    assert supervised_fedenhance_loss(est[:, [1, 0, 2]], speech, noises) > loss + 10
    est.requires_grad_(True)
    supervised_fedenhance_loss(est, speech, noises).backward()
    assert est.grad is not None and (est.grad[:, 1:].abs().sum(-1) > 0).all()


# --------------------------------------------------------------------------- PULSE
def _np_risks(z, mag, pos, prior, p):
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    w = (mag + 1e-7) ** p
    y = np.broadcast_to(pos[:, None, None], z.shape).astype(float)
    n_p, n_u = y.sum() + 1e-7, (1 - y).sum() + 1e-7
    r_pos = prior * (y * sig(-z) * w).sum() / n_p
    r_neg = ((1 - y) * sig(z) * w).sum() / n_u - prior * (y * sig(z) * w).sum() / n_p
    return r_pos, r_neg


@pytest.mark.parametrize("p", [1.0, 0.0])
def test_nnpu_risks_match_numpy(gen, p):
    z = torch.randn(4, 9, 7, generator=gen, dtype=torch.float64)
    mag = torch.rand(4, 9, 7, generator=gen, dtype=torch.float64) * 3
    pos = torch.tensor([True, False, True, False])
    out = nnpu_loss(z, mag, pos, prior=0.7, weight_power=p, mode="unbiased")
    r_pos, r_neg = _np_risks(z.numpy(), mag.numpy(), pos.numpy(), 0.7, p)
    assert out.branch == "unbiased"
    assert float(out.risk_pos) == pytest.approx(r_pos, rel=1e-10)
    assert float(out.risk_neg) == pytest.approx(r_neg, rel=1e-10)
    assert float(out.loss) == pytest.approx(r_pos + r_neg, rel=1e-10)
    # per-bin labels give the same result as per-item labels
    per_bin = pos[:, None, None].expand_as(z)
    assert float(nnpu_loss(z, mag, per_bin, 0.7, p, mode="unbiased").loss) == pytest.approx(
        r_pos + r_neg, rel=1e-10
    )


def test_nnpu_takes_risk_branch_when_negative_risk_is_positive(gen):
    pos = torch.tensor([True, False])
    z = torch.zeros(2, 5, 4)  # σ(±z) = 1/2: R⁻ = (mean_U w − π mean_P w) / 2
    mag = torch.stack([torch.full((5, 4), 1.0), torch.full((5, 4), 2.0)])
    out = nnpu_loss(z, mag, pos)
    assert out.branch == "risk" and out.risk_neg > 0
    torch.testing.assert_close(out.loss, out.risk_pos + out.risk_neg)
    assert float(out.risk_neg) == pytest.approx((2.0 - 0.6 * 1.0) / 2, rel=1e-5)


def test_nnpu_gamma_branch_gradient_is_minus_gamma_grad_negative_risk(gen):
    pos = torch.tensor([True, True, False])
    mag = torch.rand(3, 6, 5, generator=gen) + 0.5
    # noise bins scored as speech-free (σ(z) ≈ 1), noisy bins as speech (σ(z) ≈ 0): R⁻ < 0
    base = torch.where(pos[:, None, None], 4.0, -4.0).expand(3, 6, 5)
    z = (base + 0.3 * torch.randn(3, 6, 5, generator=gen)).requires_grad_(True)
    gamma, beta = 0.096, 0.0
    out = nnpu_loss(z, mag, pos, gamma=gamma, beta=beta)
    assert out.branch == "gamma" and out.risk_neg < beta
    torch.testing.assert_close(out.loss, gamma * (beta - out.risk_neg))
    (g_loss,) = torch.autograd.grad(out.loss, z, retain_graph=True)
    (g_neg,) = torch.autograd.grad(out.risk_neg, z)
    torch.testing.assert_close(g_loss, -gamma * g_neg)
    assert g_loss.abs().sum() > 0
    # the unbiased estimator on the same batch is the plain sum (negative risk included)
    unb = nnpu_loss(z, mag, pos, mode="unbiased")
    assert unb.branch == "unbiased" and unb.loss < out.risk_pos
    with pytest.raises(ValueError, match="mode"):
        nnpu_loss(z, mag, pos, mode="biased")


def test_pn_loss_uses_speech_mask_sigma_minus_z(gen):
    noisy = torch.rand(2, 8, 6, generator=gen) + 0.1
    clean = 0.5 * noisy
    speech = torch.full_like(noisy, -30.0)  # z ≪ 0: speech, mask σ(−z) ≈ 1
    noise = torch.full_like(noisy, 30.0)  # z ≫ 0: noise, mask ≈ 0
    torch.testing.assert_close(pn_loss(speech, noisy, clean), (0.5 * noisy).pow(2).mean())
    torch.testing.assert_close(pn_loss(noise, noisy, clean), clean.pow(2).mean())
    half = torch.zeros_like(noisy)  # z = 0: mask 1/2 = |S|/|X| → zero loss
    assert float(pn_loss(half, noisy, clean)) == pytest.approx(0.0, abs=1e-12)
