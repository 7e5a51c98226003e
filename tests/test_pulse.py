"""PULSE on a trivially separable case: a gated tone (the "speech") in white noise.

A PU client holds only noisy tones (unlabelled) and white-noise clips (positive); the
nnPU risk must still teach the mask CNN to suppress the noise bins. This is the check
that catches a collapsed PU model (mask all ones or all zeros): with the compressed
feature |X|^(1/15) the same run ends at 0 dB with every bin on one side.
"""

from __future__ import annotations

import numpy as np
import torch

from raysim.data.se_sources import PU
from raysim.registry import TASKS
from raysim.tasks.base import ClientContext

SR, T = 8000, 2000


def _tones_in_white_noise(rng: np.random.Generator, n: int) -> dict[str, torch.Tensor]:
    """Gated tones at 300–1500 Hz in white noise at SNR U[−5, 5] dB over the tone's
    active half, and a noise-only clip at the same noise level."""
    t = np.arange(T) / SR
    gate = np.sin(2 * np.pi * rng.uniform(2, 6, (n, 1)) * t) > 0
    tone = np.sin(2 * np.pi * rng.uniform(300, 1500, (n, 1)) * t) * gate
    level = np.sqrt(0.5 * gate.mean(1, keepdims=True)) * 10 ** (-rng.uniform(-5, 5, (n, 1)) / 20)
    noise, clip = level * rng.normal(size=(2, n, T))
    as_tensor = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return {"mixture": as_tensor(tone + noise), "mixture2": as_tensor(clip),
            "speech": as_tensor(tone), "kind": torch.full((n,), PU)}  # fmt: skip


def test_pu_learning_suppresses_white_noise_around_a_tone():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    params = {
        "name": "speech_enhancement",
        "model": {"name": "pulse_cnn", "channels": 4, "blocks": 1, "dropout": 0.0,
                  "n_fft": 128, "hop": 32},
        "nnpu": {"prior": 0.9},  # the tone occupies ~4 % of the bins
    }  # fmt: skip
    task = TASKS.build(TASKS.parse(params), {"sample_rate": SR, "client_kinds": ["pu"]})
    model = task.build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    ctx = ClientContext(0, 0, 0, np.random.default_rng(0))
    for _ in range(150):
        loss = task.loss(model, _tones_in_white_noise(rng, 8), ctx)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test = _tones_in_white_noise(np.random.default_rng(1), 16)
    scores = task.evaluate(model, {"mixture": test["mixture"].numpy(),
                                   "speech": test["speech"].numpy()})  # fmt: skip
    with torch.no_grad():
        _, _, z = model.analyse(test["mixture"])
    kept = float((z < 0).float().mean())
    assert scores["unchanged_frac"] == 0.0
    assert 0.01 < kept < 0.3  # neither all ones nor all zeros: the tone's bins survive
    assert scores["si_sdri"] > 6.0
