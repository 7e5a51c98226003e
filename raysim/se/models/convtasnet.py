"""A small Conv-TasNet-style masking separator (the model of benchmark workload W2).

Luo & Mesgarani, "Conv-TasNet: Surpassing ideal time-frequency magnitude masking
for speech separation", IEEE/ACM TASLP 2019, reduced to a few residual blocks.

Layout: encoder Conv1d(1, N, K, stride S) + ReLU → gLN → `n_blocks` residual
blocks (1×1 conv N→H, PReLU, gLN, depthwise conv k=3 with dilation 2^i, PReLU,
gLN, 1×1 conv H→N) → 1×1 conv to `n_src` sigmoid masks over the encoder output →
shared ConvTranspose1d(N, 1, K, stride S) decoder → optional mixture consistency.

The defaults are `workloads.W2Separator` exactly: the layers are built in the same
order under the same attribute names, so after `torch.manual_seed(s)` both have
identical parameters, state dicts are interchangeable and outputs are bit-equal.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from raysim.se.models.consistency import mixture_consistency


class _DilatedBlock(nn.Module):
    """Residual block: 1×1 conv → PReLU → gLN → dilated depthwise conv → PReLU → gLN → 1×1."""

    def __init__(self, channels: int, hidden: int, dilation: int):
        super().__init__()
        self.inp = nn.Conv1d(channels, hidden, 1)
        self.act1 = nn.PReLU()
        self.norm1 = nn.GroupNorm(1, hidden)
        self.dw = nn.Conv1d(hidden, hidden, 3, padding=dilation, dilation=dilation, groups=hidden)
        self.act2 = nn.PReLU()
        self.norm2 = nn.GroupNorm(1, hidden)
        self.out = nn.Conv1d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(self.act1(self.inp(x)))
        h = self.norm2(self.act2(self.dw(h)))
        return x + self.out(h)


class ConvTasNet(nn.Module):
    """Masking separator, input (B, T) → estimates (B, n_src, T).

    Args:
        n_src: number of output slots (masks).
        n_filters: encoder bases N.
        kernel: encoder/decoder kernel length K (samples).
        stride: encoder/decoder hop S (samples).
        hidden: channels H inside each residual block.
        n_blocks: residual blocks; block i uses dilation 2^i.
        mixture_consistency: project the estimates so that they sum to the input.
    """

    def __init__(
        self,
        n_src: int = 4,
        n_filters: int = 64,
        kernel: int = 16,
        stride: int = 8,
        hidden: int = 256,
        n_blocks: int = 4,
        mixture_consistency: bool = True,
    ):
        super().__init__()
        self.n_src, self.n_filters = n_src, n_filters
        self.consistent = mixture_consistency
        self.encoder = nn.Conv1d(1, n_filters, kernel, stride=stride, bias=False)
        self.norm = nn.GroupNorm(1, n_filters)
        self.blocks = nn.ModuleList(_DilatedBlock(n_filters, hidden, 2**i) for i in range(n_blocks))
        self.mask = nn.Conv1d(n_filters, n_src * n_filters, 1)
        self.decoder = nn.ConvTranspose1d(n_filters, 1, kernel, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Separate mixtures `x` (B, T) into (B, n_src, T)."""
        batch, length = x.shape
        w = F.relu(self.encoder(x.unsqueeze(1)))  # (B, N, L)
        h = self.norm(w)
        for block in self.blocks:
            h = block(h)
        frames = w.shape[-1]
        masks = torch.sigmoid(self.mask(h)).view(batch, self.n_src, self.n_filters, frames)
        masked = (masks * w.unsqueeze(1)).view(batch * self.n_src, self.n_filters, frames)
        out = self.decoder(masked).view(batch, self.n_src, -1)
        if out.shape[-1] >= length:
            out = out[..., :length]
        else:
            out = F.pad(out, (0, length - out.shape[-1]))
        return mixture_consistency(out, x) if self.consistent else out
