"""SE metrics: SI-SDR(i) against NumPy, SDR, PESQ/STOI, slot selection, W2 evaluation parity."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch

from raysim.se import metrics
from raysim.se.losses import si_snr
from raysim.se.metrics import evaluate_enhancement, sdr, select_slot, si_sdr, si_sdri

SR = 16000


def _speech_like(seconds: float = 1.0) -> torch.Tensor:
    """Voiced harmonic signal with a syllabic envelope (PESQ detects utterances in it)."""
    t = torch.arange(int(seconds * SR)) / SR
    phase = 2 * math.pi * torch.cumsum(140 + 20 * torch.sin(2 * math.pi * 0.7 * t), 0) / SR
    voiced = sum(torch.sin(k * phase) / k for k in range(1, 20))
    return (voiced * torch.sin(2 * math.pi * 3 * t).clamp(min=0) ** 2).unsqueeze(0)


def _np_si_sdr(est: np.ndarray, ref: np.ndarray) -> np.ndarray:
    est = est - est.mean(-1, keepdims=True)
    ref = ref - ref.mean(-1, keepdims=True)
    alpha = (est * ref).sum(-1, keepdims=True) / (ref**2).sum(-1, keepdims=True)
    target = alpha * ref
    return 10 * np.log10((target**2).sum(-1) / ((est - target) ** 2).sum(-1))


def test_si_sdr_matches_numpy(gen):
    ref = torch.randn(4, 1000, generator=gen, dtype=torch.float64) + 0.3
    est = 0.5 * ref + torch.randn(4, 1000, generator=gen, dtype=torch.float64) * torch.tensor(
        [[0.05], [0.2], [0.5], [2.0]], dtype=torch.float64
    )
    np.testing.assert_allclose(
        si_sdr(est, ref).numpy(), _np_si_sdr(est.numpy(), ref.numpy()), rtol=1e-9
    )
    noisy = ref + torch.randn(4, 1000, generator=gen, dtype=torch.float64)
    np.testing.assert_allclose(
        si_sdri(est, ref, noisy).numpy(),
        _np_si_sdr(est.numpy(), ref.numpy()) - _np_si_sdr(noisy.numpy(), ref.numpy()),
        rtol=1e-9,
    )


def test_sdr_tracks_snr_of_white_noise(gen):
    clean = _speech_like()
    noise = torch.randn(1, clean.shape[-1], generator=gen)
    for snr_db in (0.0, 20.0):
        scaled = noise * clean.norm() / noise.norm() * 10 ** (-snr_db / 20)
        assert float(sdr(clean + scaled, clean)) == pytest.approx(snr_db, abs=1.0)


def test_select_slot(gen):
    clean = torch.randn(3, 200, generator=gen)
    noise = torch.randn(3, 3, 200, generator=gen)
    est = noise.clone()
    best = torch.tensor([2, 0, 1])
    est[torch.arange(3), best] = clean + 0.1 * noise[:, 0]
    assert torch.equal(select_slot(est, clean, "oracle"), est[torch.arange(3), best])
    assert torch.equal(select_slot(est, clean, 1), est[:, 1])
    assert select_slot(clean, clean, "oracle") is clean


def test_evaluate_enhancement_means_and_slots(gen):
    clean = torch.randn(4, 800, generator=gen)
    noisy = clean + torch.randn(4, 800, generator=gen)
    est = torch.stack([clean + 0.1 * torch.randn(4, 800, generator=gen), noisy - clean], 1)
    out = evaluate_enhancement(est, clean, noisy, SR, metrics=("si_sdr", "si_sdri"), slot=0)
    assert set(out) == {"si_sdr", "si_sdri"}
    assert out["si_sdr"] == pytest.approx(float(si_sdr(est[:, 0], clean).mean()))
    assert out["si_sdri"] == pytest.approx(float(si_sdri(est[:, 0], clean, noisy).mean()))
    assert out["si_sdri"] > 15
    wrong = evaluate_enhancement(est, clean, noisy, SR, metrics=("si_sdri",), slot=1)
    assert wrong["si_sdri"] < 0
    with pytest.raises(ValueError, match="unknown metrics"):
        evaluate_enhancement(est, clean, noisy, SR, metrics=("snr",))


def test_oracle_slot_scores_the_slot_closest_to_the_clean_speech(gen):
    clean, noise = torch.randn(4, 800, generator=gen), torch.randn(4, 800, generator=gen)
    noisy = clean + noise
    est = torch.stack([noise, clean + 0.1 * noise], 1)
    est[2] = est[2].flip(0)  # item 2 puts its speech estimate in slot 0
    out = evaluate_enhancement(est, clean, noisy, SR, metrics=("si_snri",), slot="oracle")
    speech = torch.stack([est[i, 0 if i == 2 else 1] for i in range(4)])
    expected = (si_snr(speech, clean) - si_snr(noisy, clean)).mean()
    assert out["si_snri"] == pytest.approx(float(expected), abs=1e-5)
    assert out["si_snri"] > 15


def test_pesq_and_stoi_rank_clean_above_noisy(gen):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    clean = _speech_like()
    noisy = clean + 0.3 * clean.std() * torch.randn(clean.shape, generator=gen)
    out_clean = evaluate_enhancement(clean, clean, noisy, SR, metrics=("pesq", "stoi"))
    out_noisy = evaluate_enhancement(noisy, clean, noisy, SR, metrics=("pesq", "stoi"))
    assert out_clean["pesq"] > 4.5 and out_clean["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert out_noisy["pesq"] < 3.0 and out_noisy["stoi"] < 0.99


def test_undefined_items_are_nan_and_left_out_of_the_mean(gen):
    pytest.importorskip("pesq")
    clean = _speech_like().repeat(2, 1)
    noisy = clean + 0.3 * clean.std() * torch.randn(clean.shape, generator=gen)
    # item 1: a silent estimate, which SDR cannot score (torchmetrics gives -inf)
    est = torch.stack([noisy[0], torch.zeros_like(noisy[1])])
    assert torch.isnan(sdr(est, clean)).tolist() == [False, True]
    out = evaluate_enhancement(est, clean, noisy, SR, metrics=("sdr",))
    assert out["sdr"] == pytest.approx(float(sdr(noisy[:1], clean[:1])), abs=1e-4)
    # under 0.25 s PESQ refuses a clip: NaN for it instead of an exception
    short = clean[:, : SR // 8]
    assert torch.isnan(metrics.pesq(short, short, SR)).all()
    assert math.isnan(evaluate_enhancement(short, short, short, SR, metrics=("pesq",))["pesq"])


def test_stoi_of_a_clip_too_short_to_score_is_nan_and_left_out_of_the_mean(gen, recwarn):
    clean = _speech_like().repeat(2, 1)
    noisy = clean + 0.3 * clean.std() * torch.randn(clean.shape, generator=gen)
    short = torch.zeros_like(clean)
    short[:, : SR // 5] = clean[:, : SR // 5]  # 200 ms of speech: under STOI's 30 frames
    per_item = metrics.stoi(short, short, SR)
    assert torch.isnan(per_item).all()  # pystoi's stand-in is 1e-5, never a score here
    est, ref = torch.stack([noisy[0], short[1]]), torch.stack([clean[0], short[1]])
    out = evaluate_enhancement(est, ref, est, SR, metrics=("stoi",))
    assert out["stoi"] == pytest.approx(float(metrics.stoi(noisy[:1], clean[:1], SR)), abs=1e-6)
    assert 0.5 < out["stoi"] < 0.99
    assert not [w for w in recwarn if "STFT frames" in str(w.message)]


def test_missing_optional_package_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        metrics.importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("pesq", "pystoi") else real(name, *a),
    )
    x = torch.randn(1, 1600)
    for name in ("pesq", "stoi"):
        with pytest.raises(ImportError, match=r"pip install raysim\[metrics\]"):
            evaluate_enhancement(x, x, x, SR, metrics=("si_sdr", name))


def test_only_the_si_snr_family_evaluates_without_torchmetrics():
    assert not metrics.needs_torchmetrics(["si_snr", "si_snri"])
    assert all(metrics.needs_torchmetrics([m]) for m in ("si_sdr", "si_sdri", "sdr", "pesq"))
