"""The audio loader: formats, resampling, and errors that name the file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF

from raysim.audio.io import AudioError, load_audio, resample


def test_resample_equals_torchaudio_for_any_length():
    rng = np.random.default_rng(0)
    for n in (1, 999, 16384, 40001):
        x = rng.standard_normal(n).astype(np.float32)
        ours = resample(x, 44100, 16000)
        ref = AF.resample(torch.from_numpy(x), 44100, 16000).numpy()
        assert ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, atol=1e-4)  # conv algorithms differ by shape


def test_load_resamples_and_mixes_to_mono(tmp_path):
    t = np.arange(8000) / 8000
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], 1)
    path = tmp_path / "a.flac"
    sf.write(path, stereo.astype(np.float32), 8000)
    wave, sr = load_audio(path, 16000)
    assert sr == 16000 and wave.ndim == 1 and len(wave) == 16000
    assert wave.dtype == np.float32


def test_corrupt_and_empty_files_name_the_file(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF" + bytes(100))
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="bad.wav"):
        load_audio(bad)
    with pytest.raises(AudioError, match="empty.wav.*zero length"):
        load_audio(empty)
