"""raysim.se.prior: the share of noise-dominated bins that PULSE's π stands for."""

from __future__ import annotations

import numpy as np
import pytest

from raysim.se.prior import noise_dominated_share

SR, T = 8000, 4000


def _tone(active: float) -> np.ndarray:
    """A 1 kHz tone over the first `active` share of the clip, silence after."""
    t = np.arange(T) / SR
    return np.sin(2 * np.pi * 1000 * t) * (t < active * T / SR)


def test_share_follows_how_much_of_the_clip_holds_speech():
    rng = np.random.default_rng(0)
    noise = 0.01 * rng.normal(size=(4, T))
    short = np.stack([_tone(0.25)] * 4)
    long = np.stack([_tone(0.75)] * 4)
    pi_short, weighted_short = noise_dominated_share(short, noise, n_fft=256, hop=64)
    pi_long, _ = noise_dominated_share(long, noise, n_fft=256, hop=64)
    # a tone owns a few bins of each frame it sounds in; silence leaves every bin to noise
    assert 0.9 < pi_short < 1.0 and pi_long < pi_short
    assert weighted_short < pi_short  # the tone's bins are loud: less weight is noise's
    silent, _ = noise_dominated_share(np.zeros((4, T)), noise, n_fft=256, hop=64)
    assert silent == 1.0


def test_shapes_must_match():
    with pytest.raises(ValueError, match=r"need the same \(B, T\)"):
        noise_dominated_share(np.zeros((2, T)), np.zeros((3, T)))
