"""Sudo rm -rf with group communication (GC), the separator used by FedEnhance.

Tzinis, Wang & Smaragdis, "Sudo rm -rf: Efficient networks for universal audio
source separation", MLSP 2020; the group-communication variant of Tzinis et al.,
"Compute and memory efficient universal sound source separation", J. Signal
Process. Syst. 2021 (GC after Luo et al., "Group communication with context
codec for lightweight source separation", 2021); used as in Tzinis et al.,
"Separate but together: unsupervised federated learning for speech enhancement
from non-IID data" (FedEnhance), WASPAA 2021.

Pipeline (defaults = FedEnhance): encoder Conv1d(1, 512, k=41, stride 20) →
gLN → 1×1 bottleneck 512→256 → 8 GC-U-blocks → PReLU + 1×1 conv to 3·512 ReLU
masks on the encoder output → ConvTranspose1d(3·512, 3, k=41, stride 20) decoder
(ungrouped, as in FedEnhance's released model) → mixture consistency.
Slot 0 is speech, slots 1–2 are noises. About 0.8 M parameters.
FedEnhance standardises each input mixture (zero mean, unit variance) before
the model; that is the caller's job.

A GC-U-block splits the C bottleneck channels into G groups of C/G, mixes the
groups with a transform-average-concatenate (TAC) module, then runs one U-block
(hidden C_U/G channels, `upsampling_depth` resolutions) shared by all groups.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from raysim.se.models.consistency import mixture_consistency


def _gln(channels: int) -> nn.GroupNorm:
    """Global layer norm over (channels, time) with a per-channel gain and bias."""
    return nn.GroupNorm(1, channels, eps=1e-8)


class _UBlock(nn.Module):
    """U-ConvBlock: 1×1 expand, `depth` depthwise convs (stride 2 after the first),
    nearest upsampling with additive skips from coarse to fine, 1×1 project, residual."""

    def __init__(self, channels: int, hidden: int, depth: int):
        super().__init__()
        self.expand = nn.Sequential(nn.Conv1d(channels, hidden, 1), _gln(hidden), nn.PReLU())
        self.down = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(hidden, hidden, 5, stride=1 if i == 0 else 2, padding=2, groups=hidden),
                _gln(hidden),
            )
            for i in range(depth)
        )
        self.out_act = nn.Sequential(_gln(hidden), nn.PReLU())
        self.project = nn.Conv1d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        levels = [self.down[0](self.expand(x))]
        for conv in self.down[1:]:
            levels.append(conv(levels[-1]))
        out = levels.pop()
        while levels:
            out = levels.pop() + F.interpolate(out, scale_factor=2.0, mode="nearest")
        return x + self.project(self.out_act(out))


class _TAC(nn.Module):
    """Transform-average-concatenate across groups: input (B, G, N, L), residual output."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(channels, hidden), nn.PReLU())
        self.average = nn.Sequential(nn.Linear(hidden, hidden), nn.PReLU())
        self.concat = nn.Sequential(nn.Linear(2 * hidden, channels), nn.PReLU())
        self.norm = _gln(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, groups, channels, frames = x.shape
        h = self.transform(x.permute(0, 3, 1, 2))  # (B, L, G, H)
        mean = self.average(h.mean(2, keepdim=True)).expand_as(h)
        y = self.concat(torch.cat([h, mean], -1))  # (B, L, G, N)
        y = y.permute(0, 2, 3, 1).reshape(batch * groups, channels, frames)
        return x + self.norm(y).view_as(x)


class _GCUBlock(nn.Module):
    """TAC across G channel groups, then one U-block applied to every group."""

    def __init__(self, channels: int, hidden: int, depth: int, groups: int):
        super().__init__()
        if channels % groups or hidden % groups:
            raise ValueError(f"channels {channels} and hidden {hidden} must divide by {groups}")
        self.groups = groups
        self.tac = _TAC(channels // groups, 3 * channels // groups)
        self.ublock = _UBlock(channels // groups, hidden // groups, depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, frames = x.shape
        h = self.tac(x.view(batch, self.groups, channels // self.groups, frames))
        h = self.ublock(h.view(batch * self.groups, channels // self.groups, frames))
        return h.view(batch, channels, frames)


class SuDORMRF(nn.Module):
    """GC Sudo rm -rf separator, input (B, T) → estimates (B, n_src, T).

    Args:
        n_src: output slots (FedEnhance: 3; slot 0 = speech, 1–2 = noises).
        enc_kernel: encoder/decoder kernel (odd); the hop is enc_kernel // 2 (41 → 20).
        enc_bases: encoder bases (512).
        bottleneck: channels between U-blocks ("out_channels", 256).
        ublock_channels: channels inside the U-blocks ("in_channels", 512).
        n_blocks: GC-U-blocks (8).
        upsampling_depth: resolutions per U-block (5).
        groups: group-communication groups (16).
        mixture_consistency: project the estimates so that they sum to the input.

    Inputs of any length are zero-padded to a multiple of hop · 2^(depth−1) and the
    output is cropped back to T.
    """

    def __init__(
        self,
        n_src: int = 3,
        enc_kernel: int = 41,
        enc_bases: int = 512,
        bottleneck: int = 256,
        ublock_channels: int = 512,
        n_blocks: int = 8,
        upsampling_depth: int = 5,
        groups: int = 16,
        mixture_consistency: bool = True,
    ):
        super().__init__()
        if enc_kernel % 2 == 0:
            raise ValueError(f"enc_kernel must be odd, got {enc_kernel}")
        self.n_src, self.enc_bases = n_src, enc_bases
        self.consistent = mixture_consistency
        hop = enc_kernel // 2
        self.pad_multiple = hop * 2 ** (upsampling_depth - 1)
        self.encoder = nn.Conv1d(1, enc_bases, enc_kernel, stride=hop, padding=hop, bias=False)
        nn.init.xavier_uniform_(self.encoder.weight)
        self.norm = _gln(enc_bases)
        self.bottleneck = nn.Conv1d(enc_bases, bottleneck, 1)
        self.separator = nn.Sequential(
            *(
                _GCUBlock(bottleneck, ublock_channels, upsampling_depth, groups)
                for _ in range(n_blocks)
            )
        )
        self.mask = nn.Sequential(nn.PReLU(), nn.Conv1d(bottleneck, n_src * enc_bases, 1))
        self.decoder = nn.ConvTranspose1d(
            n_src * enc_bases,
            n_src,
            enc_kernel,
            stride=hop,
            padding=hop,
            output_padding=hop - 1,
            bias=False,
        )
        nn.init.xavier_uniform_(self.decoder.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Separate mixtures `x` (B, T) into (B, n_src, T)."""
        batch, length = x.shape
        padded = F.pad(x, (0, -length % self.pad_multiple)).unsqueeze(1)
        basis = self.encoder(padded)  # (B, N, L)
        h = self.separator(self.bottleneck(self.norm(basis)))
        masks = F.relu(self.mask(h)).view(batch, self.n_src, self.enc_bases, -1)
        masked = (masks * basis.unsqueeze(1)).view(batch, self.n_src * self.enc_bases, -1)
        out = self.decoder(masked)[..., :length]
        return mixture_consistency(out, x) if self.consistent else out
