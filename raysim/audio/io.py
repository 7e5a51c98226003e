"""Audio file I/O: one loader for WAV/FLAC/OGG with resampling to a target rate."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf


class AudioError(ValueError):
    """An audio file that cannot be used: unreadable, corrupt, empty or non-finite."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@lru_cache(maxsize=64)
def _resampler(orig_sr: int, new_sr: int):
    import torchaudio.transforms as T  # heavy import, only when resampling is needed

    return T.Resample(orig_sr, new_sr)


_BUCKET = 1 << 14


def resample(wave: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    """Resample a mono float32 signal with torchaudio's band-limited sinc resampler.

    Inputs are zero-padded to a multiple of 16384 samples and the output cropped:
    torchaudio pads with zeros itself, so the result is the same (up to float
    rounding), while the convolution sees few distinct shapes (each new shape
    costs a kernel set-up, which dominated on corpora of varied file lengths).
    """
    if orig_sr == new_sr:
        return wave
    import torch

    n = len(wave)
    padded = np.zeros(-(-n // _BUCKET) * _BUCKET, np.float32)
    padded[:n] = wave
    with torch.no_grad():
        out = _resampler(int(orig_sr), int(new_sr))(torch.from_numpy(padded))
    return out[: -(-int(new_sr) * n // int(orig_sr))].numpy().astype(np.float32, copy=False)


def audio_info(path: str | Path) -> tuple[float, int]:
    """(duration in seconds, sample rate) from the file header, without decoding."""
    try:
        info = sf.info(str(path))
    except Exception as err:  # soundfile raises several types for broken headers
        raise AudioError(path, f"unreadable audio header ({err})") from err
    return info.frames / info.samplerate, int(info.samplerate)


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read a mono float32 waveform, optionally resampled to `sample_rate`.

    Multi-channel files are averaged to mono. Raises :class:`AudioError` naming the
    file when it cannot be decoded, holds no samples, or contains NaN/inf.
    """
    try:
        wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:
        raise AudioError(path, f"cannot decode audio ({err})") from err
    if wave.shape[0] == 0:
        raise AudioError(path, "file holds no samples (zero length)")
    wave = wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]
    if not np.isfinite(wave).all():
        raise AudioError(path, "audio contains NaN or inf samples")
    if sample_rate is not None and sr != sample_rate:
        wave, sr = resample(wave, sr, sample_rate), sample_rate
    return np.ascontiguousarray(wave, dtype=np.float32), int(sr)
