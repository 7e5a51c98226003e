"""Audio file I/O: one loader for WAV/FLAC/OGG with resampling to a target rate.

Faults are raised, not hidden: missing, empty, corrupt and truncated files raise
:class:`AudioError` naming the file, and :func:`read_audio` says what the loader changed
(the file's own rate and channel count), so callers can report resampling and down-mixing.
"""

from __future__ import annotations

import os
import struct
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

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


class AudioHeader(NamedTuple):
    """What a file's header says: frames, sample rate (Hz) and channel count."""

    frames: int
    sample_rate: int
    channels: int

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return self.frames / self.sample_rate


class LoadedAudio(NamedTuple):
    """A decoded mono waveform and what the file held before conversion."""

    wave: np.ndarray  # mono float32 at `sample_rate`
    sample_rate: int
    orig_sample_rate: int  # the file's own rate (differs when resampled)
    orig_channels: int  # the file's channel count (> 1: averaged to mono)


# WAV format tags whose block_align is the size of one frame (PCM, float, A-law, mu-law,
# extensible); for compressed formats a block holds many frames, so sizes stay in bytes.
_FRAME_FORMATS = frozenset({0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE})
# data-chunk sizes that streaming writers leave as placeholders: not a length claim
_UNKNOWN_SIZES = frozenset({0, 0xFFFFFFFF})


def wav_truncation(path: str | Path) -> str | None:
    """Why a WAV file is truncated ("header says N frames, file holds M"), else None.

    libsndfile clamps a WAV's data-chunk size to the bytes present, so a file cut short
    (an interrupted copy or download) reads silently as a shorter one. The RIFF header
    still holds the size that was written: walk the chunks (``fmt `` for the frame
    size, then ``data``) and compare its declared size with the bytes after it. Only
    little-endian RIFF/WAVE is checked; RF64, RIFX and other formats give None.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = os.fstat(f.fileno()).st_size
        frame_bytes, unit = 1, "bytes"
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None  # no data chunk: libsndfile reports what is wrong
            chunk_id, chunk_size = struct.unpack("<4sI", chunk)
            if chunk_id == b"data":
                present = size - f.tell()
                if chunk_size in _UNKNOWN_SIZES or chunk_size <= present:
                    return None
                declared, held = chunk_size // frame_bytes, present // frame_bytes
                return f"truncated: header says {declared} {unit}, file holds {held}"
            body = f.read(min(chunk_size, 16)) if chunk_id == b"fmt " else b""
            if len(body) >= 14:  # WAVEFORMATEX: format tag at byte 0, block align at 12
                tag, align = struct.unpack_from("<H10xH", body)
                if tag in _FRAME_FORMATS and align:
                    frame_bytes, unit = align, "frames"
            f.seek(chunk_size - len(body) + (chunk_size & 1), os.SEEK_CUR)  # pad to even


def _check_present(path: str | Path) -> None:
    """AudioError for a missing or 0-byte file (libsndfile's messages for them are vague)."""
    if not os.path.isfile(path):
        raise AudioError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise AudioError(path, "file is empty (0 bytes)")


def _check_truncation(path: str | Path) -> None:
    reason = wav_truncation(path)
    if reason:
        raise AudioError(path, reason)


def read_header(path: str | Path) -> AudioHeader:
    """The file's header, without decoding; raises :class:`AudioError` naming the file
    when it is missing, empty, unreadable, truncated (WAV) or holds no samples."""
    _check_present(path)
    try:
        info = sf.info(str(path))
    except Exception as err:  # soundfile raises several types for broken headers
        raise AudioError(path, f"unreadable audio header ({err})") from err
    _check_truncation(path)
    if info.frames <= 0:
        raise AudioError(path, "file holds no samples (zero length)")
    return AudioHeader(int(info.frames), int(info.samplerate), int(info.channels))


def audio_info(path: str | Path) -> tuple[float, int]:
    """(duration in seconds, sample rate) from the file header, without decoding."""
    header = read_header(path)
    return header.duration, header.sample_rate


def read_audio(path: str | Path, sample_rate: int | None = None) -> LoadedAudio:
    """Decode a file to mono float32, resampled to `sample_rate` (None keeps its rate).

    Multi-channel files are averaged to mono. Raises :class:`AudioError` naming the
    file when it is missing, empty, truncated (WAV), cannot be decoded, holds no samples
    or contains NaN/inf.
    """
    _check_present(path)
    _check_truncation(path)
    try:
        wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:
        raise AudioError(path, f"cannot decode audio ({err})") from err
    if wave.shape[0] == 0:
        raise AudioError(path, "file holds no samples (zero length)")
    channels = int(wave.shape[1])
    wave = wave.mean(axis=1) if channels > 1 else wave[:, 0]
    if not np.isfinite(wave).all():
        raise AudioError(path, "audio contains NaN or inf samples")
    orig_sr = int(sr)
    if sample_rate is not None and sr != sample_rate:
        wave, sr = resample(wave, sr, sample_rate), sample_rate
    return LoadedAudio(np.ascontiguousarray(wave, dtype=np.float32), int(sr), orig_sr, channels)


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """(mono float32 waveform, its rate): :func:`read_audio` without the file's details."""
    loaded = read_audio(path, sample_rate)
    return loaded.wave, loaded.sample_rate
