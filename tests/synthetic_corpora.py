"""Tiny corpora in the published layouts of FSDD, URDU and ESC-10, from synthesised audio.

The tests use these instead of the real sets, so a fresh clone needs no data beside it.
"Speech" is a harmonic tone (a speaker's pitch) shaped by two formant-like resonances (a
word's or an emotion's colour) plus breathy noise, under a syllable envelope; "noise
classes" are coloured, band-passed, pulsed or modulated noises, one recipe per class.
Everything is seeded, so the files are the same on every run. Sample rates and formats
are the real corpora's (8 kHz WAV, 44.1 kHz WAV, 44.1 kHz OGG Vorbis): loaders must
resample, as they must for the real sets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
FSDD_RATE = 8000
URDU_RATE = 44100
ESC_RATE = 44100
#: URDU folder -> file-name letter, and the prosody of that emotion (pitch factor, loudness,
#: pitch movement in semitones): far enough apart that eGeMAPS features can tell them apart
URDU_EMOTIONS = {
    "Angry": ("A", 1.35, 0.9, 4.0),
    "Happy": ("H", 1.25, 0.6, 6.0),
    "Neutral": ("N", 1.0, 0.4, 1.0),
    "Sad": ("S", 0.85, 0.2, 0.5),
}
#: (gender, speaker number, files per emotion): unbalanced speakers, as in the real URDU
URDU_SPEAKERS = (("M", 1, 3), ("F", 2, 2), ("M", 3, 1))
ESC10_CLASSES = (
    "Dog bark", "Rain", "Sea waves", "Baby cry", "Clock tick",
    "Person sneeze", "Helicopter", "Chainsaw", "Rooster", "Fire crackling",
)  # fmt: skip


def _resonance(x: np.ndarray, sr: int, centre: float, width: float) -> np.ndarray:
    """x band-passed around `centre` Hz (a Gaussian bump in the spectrum): a formant."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(x.size, 1 / sr)
    return np.fft.irfft(spectrum * np.exp(-0.5 * ((freqs - centre) / width) ** 2), x.size)


def speech_like(
    rng: np.random.Generator,
    sr: int,
    seconds: float,
    f0: float,
    formants: tuple[float, float],
    loudness: float = 0.5,
    pitch_move: float = 1.0,
) -> np.ndarray:
    """A voiced, formant-coloured tone with a syllable envelope, peak `loudness`."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    # pitch glides by up to `pitch_move` semitones over the utterance
    glide = 2 ** (pitch_move * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t) / 12)
    phase = 2 * np.pi * np.cumsum(f0 * glide) / sr
    top = min(0.45 * sr, 4000.0)  # harmonics up to 4 kHz: the formants lie well below
    voiced = sum(np.sin(k * phase) / k for k in range(1, int(top / (f0 * 1.5))))
    voiced = voiced + 0.3 * rng.standard_normal(n)  # breath
    shaped = sum(_resonance(voiced, sr, f, 0.15 * f) for f in formants)
    syllables = np.clip(np.sin(np.pi * rng.uniform(2.0, 4.0) * t), 0, None) ** 0.5
    wave = shaped * syllables * np.hanning(n)
    return (loudness * wave / (np.abs(wave).max() + 1e-9)).astype(np.float32)


def noise_like(rng: np.random.Generator, cls: int, sr: int, seconds: float) -> np.ndarray:
    """Noise of class `cls` (0-9): each class its own colour, band or rhythm."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    white = rng.standard_normal(n)
    freqs = np.fft.rfftfreq(n, 1 / sr)
    colour = [0.0, 0.5, 1.0, 0.0, 0.0, 0.5, 1.0, 0.0, 0.0, 0.5][cls]  # 1/f^colour power
    tilted = np.fft.irfft(np.fft.rfft(white) / np.maximum(freqs, 20.0) ** colour, n)
    band = _resonance(tilted, sr, centre=200.0 + 450.0 * cls, width=150.0 + 60.0 * cls)
    # bursts that never fall silent: every chunk of a clip stays audible, as in real clips
    rhythm = 0.5 * (1 + np.sign(np.sin(2 * np.pi * (4 + 3 * cls) * t)))
    gate = 1.0 if cls in (1, 2, 6, 7) else 0.25 + 0.75 * rhythm  # steady classes vs bursty
    wave = (tilted if cls in (1, 2) else band) * gate
    return (0.3 * wave / (np.abs(wave).max() + 1e-9)).astype(np.float32)


def write_fsdd(root: Path, takes: int = 10, seed: int = 0) -> Path:
    """`root/recordings/{digit}_{speaker}_{take}.wav`, 8 kHz: 6 speakers x 10 digits."""
    rng = np.random.default_rng(seed)
    out = root / "recordings"
    out.mkdir(parents=True, exist_ok=True)
    for s, speaker in enumerate(FSDD_SPEAKERS):
        f0 = 95.0 + 25.0 * s
        for digit in range(10):
            formants = (300.0 + 60.0 * digit, 1100.0 + 120.0 * digit)
            for take in range(takes):
                seconds = rng.uniform(0.3, 0.8)  # shorter than a 1 s chunk, as FSDD's are
                wave = speech_like(rng, FSDD_RATE, seconds, f0, formants)
                sf.write(out / f"{digit}_{speaker}_{take}.wav", wave, FSDD_RATE, "PCM_16")
    return root


def write_urdu(root: Path, seed: int = 0) -> Path:
    """`root/{Angry,Happy,Neutral,Sad}/S{M,F}{n}_F{k}_{A,H,N,S}{i}.wav`, 44.1 kHz."""
    rng = np.random.default_rng(seed)
    for folder, (letter, pitch, loudness, move) in URDU_EMOTIONS.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        index = 0
        for gender, number, files in URDU_SPEAKERS:
            f0 = (120.0 if gender == "M" else 210.0) * pitch
            for _ in range(files):
                index += 1
                seconds = rng.uniform(1.0, 1.5)
                wave = speech_like(rng, URDU_RATE, seconds, f0, (650.0, 1700.0), loudness, move)
                name = f"S{gender}{number}_F{index}_{letter}{index:03d}.wav"
                sf.write(root / folder / name, wave, URDU_RATE, "PCM_16")
    return root


def write_esc10(root: Path, per_class: int = 5, seconds: float = 5.0, seed: int = 0) -> Path:
    """`root/{NNN} - {Class}/{fold}-{id}-{take}.ogg`, 44.1 kHz Vorbis, folds 1-5."""
    rng = np.random.default_rng(seed)
    for cls, name in enumerate(ESC10_CLASSES):
        folder = root / f"{cls + 1:03d} - {name}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            wave = noise_like(rng, cls, ESC_RATE, seconds)
            path = folder / f"{k % 5 + 1}-{100000 + 100 * cls + k}-A.ogg"
            sf.write(path, wave, ESC_RATE, format="OGG", subtype="VORBIS")
    return root


def write_all(root: Path) -> Path:
    """The three corpora under `root` as `fsdd/`, `urdu/` and `esc10/`."""
    write_fsdd(root / "fsdd")
    write_urdu(root / "urdu")
    write_esc10(root / "esc10")
    return root
