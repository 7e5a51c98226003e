"""The moderator (Kim, ICASSP 2017): an autoencoder of clean speech spectra picks the
specialist output it reconstructs best; and the classifier-gating baseline.

The autoencoder is fully connected on single spectral frames (|STFT| of
each utterance scaled to unit RMS, standardised with the clean frames' statistics). It
is trained on clean speech only: :func:`train_autoencoder` takes clean waveforms and
nothing else, and the :class:`SpeechAutoencoder` it returns records a digest of exactly
the array it was given (`trained_on`), so a test can check what reached it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from raysim.cdl.config import ClassifierParams, ModeratorParams


def digest(array: np.ndarray) -> str:
    """SHA-1 of an array's float32 bytes (what a moderator records of its training data)."""
    return hashlib.sha1(np.ascontiguousarray(array, np.float32).tobytes()).hexdigest()


def spectral_frames(waves: np.ndarray | torch.Tensor, p: ModeratorParams) -> torch.Tensor:
    """(n, frames, F) |STFT|^exponent of each wave scaled to unit RMS (Hann window).

    Magnitudes, as in the paper, rather than log spectra: the squared error of a
    magnitude frame is dominated by the frame's energetic bins, where speech and
    residual noise differ, while in a log spectrum the near-silent bins and frames
    weigh as much. Measured on the FSDD + ESC-10 bank (seed 0, 84 seen test mixtures):
    the magnitude AE picks outputs 1.3 dB above a random specialist, a log(|X|² +
    1e-4) AE 0.1 dB below it."""
    x = torch.as_tensor(np.asarray(waves, np.float32))
    x = x / (x.pow(2).mean(-1, keepdim=True).sqrt() + 1e-8)
    window = torch.hann_window(p.n_fft)
    spec = torch.stft(x, p.n_fft, p.hop, window=window, return_complex=True)
    return spec.abs().pow(p.exponent).transpose(1, 2).contiguous()


class _FrameAE(nn.Module):
    def __init__(self, dim: int, hidden: list[int]):
        super().__init__()
        sizes = [dim, *hidden]
        enc = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            enc += [nn.Linear(a, b), nn.ReLU()]
        dec = []
        back = sizes[::-1]
        for i, (a, b) in enumerate(zip(back[:-1], back[1:], strict=True)):
            dec += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(back) - 2 else [])
        self.net = nn.Sequential(*enc, *dec)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Reconstruction of standardised frames (the loss is taken there)."""
        return self.net(frames)


@dataclass
class SpeechAutoencoder:
    """A trained moderator: the AE, its feature settings and what it was trained on."""

    model: _FrameAE
    params: ModeratorParams
    trained_on: str  # digest() of the clean array it was given
    n_train: int
    final_loss: float

    @torch.no_grad()
    def errors(self, waves: np.ndarray | torch.Tensor) -> np.ndarray:
        """(n,) mean squared reconstruction error of each wave's standardised frames."""
        z = (spectral_frames(waves, self.params) - self.model.mean) / self.model.std
        self.model.eval()
        return ((self.model(z) - z) ** 2).mean(dim=(1, 2)).double().numpy()


def train_autoencoder(clean: np.ndarray, p: ModeratorParams, seed: int) -> SpeechAutoencoder:
    """Train the moderator on `clean` speech waveforms (n, T) only (Adam, MSE)."""
    gen = torch.Generator().manual_seed(seed)
    frames = spectral_frames(clean, p)
    frames = frames.reshape(-1, frames.shape[-1])
    frames = frames[frames.isfinite().all(1)]
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        model = _FrameAE(frames.shape[1], p.hidden)
    model.mean.copy_(frames.mean(0))
    model.std.copy_(frames.std(0) + 1e-6)
    z = (frames - model.mean) / model.std
    opt = torch.optim.Adam(model.parameters(), lr=p.lr)
    loss_value = float("nan")
    for _ in range(p.epochs):
        order = torch.randperm(len(z), generator=gen)
        total = 0.0
        for start in range(0, len(z), p.batch_size):
            batch = z[order[start : start + p.batch_size]]
            loss = ((model(batch) - batch) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(batch)
        loss_value = total / len(z)
    model.eval()
    return SpeechAutoencoder(model, p, digest(clean), len(clean), loss_value)


def select_lowest(errors: np.ndarray) -> np.ndarray:
    """Per row of `errors` (n, K): the index of the least error; ties go to the lowest
    index; NaN counts as +inf (a row of NaNs picks 0)."""
    e = np.where(np.isnan(errors), np.inf, np.asarray(errors, np.float64))
    return np.array([int(np.flatnonzero(row == row.min())[0]) for row in e], np.int64)


@dataclass
class ConditionClassifier:
    """The gating baseline: predicts a mixture's condition (its specialist) from the
    noisy mixture's log-spectrum statistics."""

    pipeline: object
    params: ModeratorParams

    def features(self, waves: np.ndarray) -> np.ndarray:
        """Mean and std over frames of each bin of log(|X|² + 1e-4) (the log evens out
        the bins, which a linear classifier of the noise's spectral shape needs)."""
        power = spectral_frames(waves, self.params).pow(2 / self.params.exponent)
        f = torch.log(power + 1e-4)
        return torch.cat([f.mean(1), f.std(1)], 1).numpy()

    def predict(self, waves: np.ndarray) -> np.ndarray:
        return np.asarray(self.pipeline.predict(self.features(waves)), np.int64)


def train_classifier(
    mixtures: np.ndarray, groups: np.ndarray, p: ClassifierParams, features: ModeratorParams
) -> ConditionClassifier:
    """Fit the gating classifier on noisy training mixtures and their clients' groups."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = ConditionClassifier(None, features)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=p.C, max_iter=p.max_iter))
    pipe.fit(clf.features(mixtures), groups)
    clf.pipeline = pipe
    return clf
