"""The class prior PULSE's PU risk needs, measured where clean speech is known.

nnPU takes π, the share of the unlabelled (noisy-speech) bins that are noise. It is a
property of the data, not of the method: PULSE's 0.6 is VoiceBank's (3.125 s of
mostly active speech), and short utterances padded into long chunks (FSDD digits in
1 s) push it towards 0.8. A π below the truth makes the risk call too few unlabelled
bins noise; `noise_dominated_share` measures it on supervised mixtures of the same
recipe, where speech and noise are known, so a PU run can be given its data's prior.
"""

from __future__ import annotations

import numpy as np
import torch


def noise_dominated_share(
    speech: np.ndarray, noise: np.ndarray, n_fft: int = 1024, hop: int = 256
) -> tuple[float, float]:
    """(share of the STFT bins where |N| > |S|, the same share weighted by |S + N|)
    over mixtures (B, T) of `speech` and `noise` (Hamming window, the PULSE CNN's STFT).

    The unweighted share is π in the sense of the risk's bin counts; the weighted one
    is the share of the weight w = |X| (p = 1) that noise bins carry.
    """
    if speech.shape != noise.shape or speech.ndim != 2:
        raise ValueError(f"speech {speech.shape} and noise {noise.shape}: need the same (B, T)")
    window = torch.hamming_window(n_fft, dtype=torch.float64)

    def stft(x: np.ndarray) -> torch.Tensor:
        return torch.stft(torch.from_numpy(np.asarray(x, np.float64)), n_fft, hop,
                          window=window, return_complex=True)  # fmt: skip

    s, n = stft(speech), stft(noise)
    noise_bins = (n.abs() > s.abs()).double()
    mix = (s + n).abs()
    return float(noise_bins.mean()), float((noise_bins * mix).sum() / mix.sum())
