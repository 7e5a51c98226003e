"""PULSE's mask CNN over the STFT magnitude.

Ito & Sugiyama, "Audio signal enhancement with learning from positive and
unlabelled data" (PULSE), ICASSP 2023.

The network maps the noisy magnitude |X| (B, F, frames) to a per-bin logit z of
the same shape. Positive = noise (speech absent), so z > 0 means noise and the
enhancement mask is 1[z < 0], applied to the complex noisy STFT before the
inverse STFT (1024-point Hamming window, hop 256, 16 kHz).

METHODS.md does not specify the network. This compact CNN follows the layout of
the authors' released code (PU variant): two 3×3 conv layers with `channels`
maps, then `blocks` pairs of 3×3 conv layers doubling the maps, every conv
followed by ReLU and channel dropout, and a final 1×1 conv to one logit map.
Its input is the linear magnitude of the item scaled to unit variance, times
`input_scale` = 1/15: what the released code computes (`abs(X) ** 1/15` parses as
|X| / 15, and every example is normalised to unit standard deviation first). A
compressed |X|^(1/15), the other reading of that line, squeezes the magnitudes of
speech and noise bins into a narrow band around 1: on a tone in white noise the nnPU
loss then drives every logit to one side and the sigmoid saturates (mask all ones or
all zeros), where the linear feature learns an 11 dB mask (`tests/test_pulse.py`).
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_pair(c_in: int, c_out: int, dropout: float) -> list[nn.Module]:
    """Two 3×3 convs (c_in → c_out → c_out), each followed by ReLU and Dropout2d."""
    return [
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.ReLU(),
        nn.Dropout2d(dropout),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.ReLU(),
        nn.Dropout2d(dropout),
    ]


class PulseCNN(nn.Module):
    """Per-bin logit CNN, magnitude (B, F, frames) → logits z (B, F, frames).

    Args:
        channels: feature maps of the first layers (widths double per block).
        blocks: conv pairs after the first pair; the last has channels · 2^blocks maps.
        dropout: Dropout2d rate after every conv.
        input_scale: the network sees |X| · input_scale (1/15).
        standardize: scale each input item to unit standard deviation before the
            features (PULSE's normalisation; the mask is then independent of level).
        n_fft: STFT size (1024); also the Hamming window length.
        hop: STFT hop (256).
    """

    def __init__(
        self,
        channels: int = 8,
        blocks: int = 2,
        dropout: float = 0.2,
        input_scale: float = 1 / 15,
        standardize: bool = True,
        n_fft: int = 1024,
        hop: int = 256,
    ):
        super().__init__()
        self.input_scale, self.standardize = input_scale, standardize
        self.n_fft, self.hop = n_fft, hop
        layers: list[nn.Module] = []
        c_in = 1
        for c_out in [channels * 2**i for i in range(blocks + 1)]:
            layers += _conv_pair(c_in, c_out, dropout)
            c_in = c_out
        layers.append(nn.Conv2d(c_in, 1, 1))
        self.net = nn.Sequential(*layers)
        self.register_buffer("window", torch.hamming_window(n_fft), persistent=False)

    def forward(self, mag: torch.Tensor) -> torch.Tensor:
        """Logits z (B, F, frames) from the magnitude (B, F, frames) at the model's input
        level (see `analyse`); z < 0 = speech."""
        return self.net((mag * self.input_scale).unsqueeze(1)).squeeze(1)

    def input_gain(self, wave: torch.Tensor) -> torch.Tensor:
        """Per-item factor (B, 1) that brings `wave` (B, T) to the model's input level."""
        if not self.standardize:
            return torch.ones_like(wave[..., :1])
        return 1.0 / (wave.std(-1, keepdim=True) + 1e-8)

    def analyse(
        self, wave: torch.Tensor, like: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(complex STFT of `wave`, its magnitude at the input level, logits z).

        The level is set by `like` (default `wave` itself), item by item: PU scales a
        noise-only clip as its noisy recording, so that the clip's bins keep the level of
        the noise they stand for (at unit variance alone, a clip is louder than the noise
        in a mixture, and level alone tells positive from unlabelled bins).
        """
        spec = self.stft(wave)
        mag = spec.abs() * self.input_gain(wave if like is None else like).unsqueeze(-1)
        return spec, mag, self(mag)

    def stft(self, wave: torch.Tensor) -> torch.Tensor:
        """Complex STFT (B, n_fft // 2 + 1, frames) of `wave` (B, T)."""
        return torch.stft(wave, self.n_fft, self.hop, window=self.window, return_complex=True)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Inverse of `stft`, cropped or padded to `length` samples."""
        return torch.istft(spec, self.n_fft, self.hop, window=self.window, length=length)

    def enhance(self, wave: torch.Tensor, soft: bool = False) -> torch.Tensor:
        """Enhanced waveform (B, T): mask 1[z < 0] (or σ(−z) if `soft`) on the noisy STFT."""
        spec, _, logits = self.analyse(wave)
        mask = torch.sigmoid(-logits) if soft else (logits < 0).to(spec.real.dtype)
        return self.istft(spec * mask, wave.shape[-1])
