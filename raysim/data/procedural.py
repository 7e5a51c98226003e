"""Built-in zero-download corpus: source-filter speech-like audio with speakers and emotions,
plus synthetic noise classes.

Speech is an impulse-train glottal source (f0 contour with jitter and shimmer) plus
aspiration and fricative noise, shaped frame by frame in the STFT domain by a formant
envelope (F1–F4 resonators moving between vowel targets) and a spectral tilt. Speakers
differ in f0, formant scale (vocal-tract length), speaking rate, tilt, breathiness, level
and vowel preferences; emotions change f0 level and range, level, tempo, jitter, tilt and
breathiness, so they are learnable from eGeMAPS-like functionals and speaker partitions
are non-IID. Everything is deterministic from ``(seed, speaker, emotion, utterance)``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from raysim.data.manifest import make_manifest, read_manifest, write_manifest
from raysim.rng import ProceduralStream, stream

EMOTIONS: tuple[str, ...] = ("neu", "hap", "sad", "ang")
NOISE_CLASSES: tuple[str, ...] = ("white", "pink", "brown", "babble", "hum", "clicks", "wind")
_FORMAT_VERSION = 1  # bump when the generator's output changes, so stale corpora regenerate

# Speakers of babble noise come from a range the corpus never uses.
_BABBLE_SPEAKER_BASE = 1_000_000

_N_FFT, _HOP = 512, 128  # at 16 kHz: 32 ms frames, 8 ms control rate (scaled with the rate)

# Vowel formant targets F1–F3 (Hz) of an adult male voice (Peterson & Barney style).
_VOWELS = np.array(
    [
        [270, 2290, 3010],
        [390, 1990, 2550],
        [530, 1840, 2480],
        [660, 1720, 2410],
        [730, 1090, 2440],
        [570, 840, 2410],
        [440, 1020, 2240],
        [300, 870, 2240],
        [640, 1190, 2390],
        [490, 1350, 1690],
    ],
    dtype=np.float64,
)
_F4 = 3500.0
_BANDWIDTHS = np.array([80.0, 110.0, 160.0, 250.0])


@dataclass(frozen=True)
class SpeakerTraits:
    """Fixed voice of one synthetic speaker."""

    speaker: int
    gender: str  # 'M' or 'F'
    f0_hz: float  # median fundamental frequency
    f0_range_st: float  # intonation range, semitones
    formant_scale: float  # vocal-tract length factor on all formants
    rate_syl_s: float  # syllables per second at neutral tempo
    tilt_db_oct: float  # spectral tilt offset, dB per octave
    breathiness: float  # aspiration noise relative to the voiced source
    level_db: float  # loudness offset
    vowel_weights: tuple[float, ...]  # preference over the vowel table (accent)


@dataclass(frozen=True)
class EmotionProsody:
    """How one emotion moves a speaker's voice away from neutral."""

    f0_shift_st: float
    f0_range_scale: float
    level_db: float
    tempo: float
    jitter: float  # relative f0 perturbation (std)
    shimmer: float  # relative pulse-amplitude perturbation (std)
    tilt_db_oct: float
    breathiness: float  # added to the speaker's


# Directions follow the vocal-emotion literature (Banse & Scherer 1996; Juslin & Laukka
# 2003): anger and happiness raise f0, level and brightness; sadness lowers them, slows
# down and narrows the f0 range. Sizes are exaggerated so small models learn them.
PROSODY: dict[str, EmotionProsody] = {
    "neu": EmotionProsody(0.0, 1.0, 0.0, 1.0, 0.006, 0.04, 0.0, 0.0),
    "hap": EmotionProsody(3.0, 1.7, 3.0, 1.12, 0.010, 0.06, 2.0, 0.0),
    "sad": EmotionProsody(-2.0, 0.45, -6.0, 0.78, 0.012, 0.08, -4.0, 0.15),
    "ang": EmotionProsody(2.0, 1.3, 7.0, 1.15, 0.020, 0.10, 5.0, 0.0),
}


def scaled_prosody(emotion: str, strength: float = 1.0) -> EmotionProsody:
    """`emotion`'s prosody moved `strength` of the way from neutral (0: neutral, 1: as
    in :data:`PROSODY`); below 1 the emotions overlap more, as mild real emotions do."""
    _emotion_index(emotion)  # names an unknown emotion
    neu, full = astuple(PROSODY["neu"]), astuple(PROSODY[emotion])
    # (1 - s) n + s f is exact at s = 0 and s = 1: default corpora keep their bits
    return EmotionProsody(
        *((1 - strength) * n + strength * f for n, f in zip(neu, full, strict=True))
    )


def speaker_traits(speaker: int, seed: int = 0) -> SpeakerTraits:
    """The voice of speaker `speaker` (even ids female, odd male) for corpus `seed`."""
    rng = stream(seed, ProceduralStream.TRAITS, speaker)
    female = speaker % 2 == 0
    weights = rng.dirichlet(np.full(len(_VOWELS), 2.0))
    return SpeakerTraits(
        speaker=int(speaker),
        gender="F" if female else "M",
        f0_hz=float(rng.uniform(175, 250) if female else rng.uniform(90, 140)),
        f0_range_st=float(rng.uniform(3.0, 6.0)),
        formant_scale=float(rng.uniform(1.12, 1.22) if female else rng.uniform(0.94, 1.04)),
        rate_syl_s=float(rng.uniform(3.5, 5.5)),
        tilt_db_oct=float(rng.uniform(-1.5, 1.5)),
        breathiness=float(rng.uniform(0.02, 0.12) + (0.05 if female else 0.0)),
        level_db=float(rng.uniform(-2.0, 2.0)),
        vowel_weights=tuple(float(w) for w in weights),
    )


def _emotion_index(emotion: str) -> int:
    if emotion not in PROSODY:
        raise ValueError(f"unknown emotion {emotion!r}; expected one of {', '.join(EMOTIONS)}")
    return EMOTIONS.index(emotion)


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average along the last axis with edge padding (length kept)."""
    if width <= 1:
        return x
    kernel = np.hanning(width + 2)[1:-1]
    kernel /= kernel.sum()
    pad = width // 2
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, width - 1 - pad)], mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1)
    return windows @ kernel


def _stft_filter(source: np.ndarray, gains: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Multiply each STFT frame of `source` by `gains[frame]` and overlap-add back.

    Hann window at 75 % overlap; output normalised by the summed squared window.
    """
    n = len(source)
    n_frames = gains.shape[0]
    total = (n_frames + 3) * hop + n_fft
    padded = np.zeros(total)
    padded[n_fft // 2 : n_fft // 2 + n] = source
    window = np.hanning(n_fft + 1)[:-1]
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:n_frames]
    spectra = np.fft.rfft(frames * window, axis=1) * gains
    out_frames = np.fft.irfft(spectra, n=n_fft, axis=1) * window
    out, norm = np.zeros(total), np.zeros(total)
    step = n_fft // hop  # frames g, g+step, ... tile the signal without overlapping
    for g in range(step):
        block = out_frames[g::step].reshape(-1)
        out[g * hop : g * hop + len(block)] += block
        norm[g * hop : g * hop + len(block)] += np.tile(window**2, len(out_frames[g::step]))
    out = out / np.maximum(norm, 1e-3)
    return out[n_fft // 2 : n_fft // 2 + n]


def _resonances(freqs: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray) -> np.ndarray:
    """Magnitude of cascaded two-pole resonators: (frames, bins) from (frames, K) formants."""
    f = freqs[None, :, None]
    F = formants[:, None, :]
    mag = 1.0 / np.sqrt((1 - (f / F) ** 2) ** 2 + (f * bandwidths / F**2) ** 2)
    return mag.prod(axis=2)


def synthesize_utterance(
    speaker: int,
    emotion: str,
    utterance: int,
    *,
    sample_rate: int = 16000,
    seed: int = 0,
    emotion_strength: float = 1.0,
) -> np.ndarray:
    """One speech-like utterance (float32 mono, about 1.5–2.5 s) of `speaker` in `emotion`,
    its prosody `emotion_strength` of the way from neutral (see :func:`scaled_prosody`)."""
    rng = stream(seed, ProceduralStream.UTTERANCE, speaker, _emotion_index(emotion), utterance)
    traits = speaker_traits(speaker, seed)
    pros = scaled_prosody(emotion, emotion_strength)
    scale = sample_rate / 16000
    n_fft, hop = int(_N_FFT * scale), max(1, int(_HOP * scale))
    n = int(rng.uniform(1.5, 2.5) * sample_rate)

    # Syllable timing: onset consonant (fricative or closure) + vowel nucleus, with
    # leading/trailing silence and an occasional pause between words.
    lead, trail = (rng.uniform(0.08, 0.2, 2) * sample_rate).astype(int)
    rate = traits.rate_syl_s * pros.tempo
    n_syl = max(2, int(round((n - lead - trail) / sample_rate * rate)))
    syl_len = rng.gamma(8.0, 1.0, n_syl)
    syl_len = np.maximum((syl_len / syl_len.sum() * (n - lead - trail)).astype(int), 8)
    onset_frac = rng.uniform(0.15, 0.35, n_syl)
    onset_kind = rng.choice([0, 1], size=n_syl, p=[0.4, 0.6])  # 0 closure, 1 fricative
    onset = (syl_len * onset_frac).astype(int)
    seg_len = np.concatenate([[lead], np.column_stack([onset, syl_len - onset]).ravel(), [trail]])
    seg_kind = np.concatenate([[0], np.column_stack([onset_kind, np.full(n_syl, 2)]).ravel(), [0]])
    seg_syl = np.concatenate([[0], np.repeat(np.arange(n_syl), 2), [n_syl - 1]])
    bounds = np.concatenate([[0], np.cumsum(seg_len)])
    n = int(bounds[-1])

    # Control-rate (frame) tracks.
    n_frames = n // hop + 1
    centres = np.minimum(np.arange(n_frames) * hop, n - 1)
    seg_at = np.searchsorted(bounds, centres, side="right") - 1
    kind = seg_kind[seg_at]
    syl = seg_syl[seg_at]
    pos = centres / n

    f0_range = traits.f0_range_st * pros.f0_range_scale
    accents = rng.normal(0.0, 0.35, n_syl) * f0_range
    contour_st = accents[syl] + f0_range * (0.3 - 0.6 * pos)  # declination over the phrase
    contour_st = _smooth(contour_st, 9) + pros.f0_shift_st
    f0_frames = traits.f0_hz * 2 ** (contour_st / 12)
    f0_frames *= 1 + pros.jitter * rng.standard_normal(n_frames)

    vowels = rng.choice(len(_VOWELS), size=n_syl, p=traits.vowel_weights)
    formants = np.column_stack([_VOWELS[vowels[syl]], np.full(n_frames, _F4)])
    formants = _smooth(formants.T, 7).T * traits.formant_scale * rng.uniform(0.97, 1.03)

    stress_db = rng.normal(0.0, 2.0, n_syl) + 0.4 * accents
    level = np.where(kind == 2, 10 ** (stress_db[syl] / 20), np.where(kind == 1, 0.3, 0.0))
    level = _smooth(level, 5)

    # Source at the sample rate: glottal impulses in vowels, aspiration, fricative noise.
    kind_s = np.repeat(seg_kind, seg_len)
    f0_s = np.interp(np.arange(n), centres, f0_frames)
    phase = np.cumsum(f0_s / sample_rate)
    pulses = np.zeros(n)
    at = np.flatnonzero(np.diff(np.floor(phase), prepend=0.0) > 0)
    pulses[at] = 1 + pros.shimmer * rng.standard_normal(len(at))
    voiced = kind_s == 2
    breath = traits.breathiness + pros.breathiness
    noise = rng.standard_normal(n)
    source = pulses * voiced + breath * 0.15 * noise * voiced + 0.08 * noise * (kind_s == 1)

    # Filter: formants (vowels) or a high band (fricatives), glottal roll-off and tilt;
    # the high-pass stands for lip radiation, which leaves speech without DC.
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    octaves = np.log2(np.maximum(freqs, 100.0) / 500.0)
    highpass = freqs**2 / (freqs**2 + 60.0**2)
    tilt_db = (traits.tilt_db_oct + pros.tilt_db_oct - 6.0) * octaves
    vowel_env = _resonances(freqs, formants, _BANDWIDTHS) * 10 ** (tilt_db / 20) * highpass
    fric_centre = min(rng.uniform(3500, 6000), 0.8 * sample_rate / 2)
    fric_env = _resonances(freqs, np.full((1, 1), fric_centre), np.array([2500.0]))
    fric_env = fric_env * 10 ** ((traits.tilt_db_oct + pros.tilt_db_oct) * octaves / 40) * highpass
    # Unit-RMS envelopes: loudness comes from `level` and the final normalisation alone.
    vowel_env /= np.sqrt(np.mean(vowel_env**2, axis=1, keepdims=True))
    fric_env /= np.sqrt(np.mean(fric_env**2))
    is_fric = _smooth((kind == 1).astype(float), 3)[:, None]
    gains = (1 - is_fric) * vowel_env + is_fric * fric_env
    wave = _stft_filter(source, gains * level[:, None], n_fft, hop)

    target_db = -24.0 + traits.level_db + pros.level_db + rng.normal(0.0, 0.7)
    active = np.repeat(seg_kind > 0, seg_len)
    rms = np.sqrt(np.mean(wave[active] ** 2)) + 1e-12
    wave *= 10 ** (target_db / 20) / rms
    return _limit(wave)


def _limit(wave: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """float32 copy scaled down (never clipped) so that its peak is at most `peak`."""
    top = float(np.max(np.abs(wave)))
    return (wave * min(1.0, peak / top) if top > 0 else wave).astype(np.float32)


def _shaped_noise(
    rng: np.random.Generator, n: int, sample_rate: int, exponent: float, highpass_hz: float = 20.0
) -> np.ndarray:
    """Gaussian noise with power spectrum ∝ 1/f**exponent (0 white, 1 pink, 2 brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sample_rate)
    spec *= np.where(f < highpass_hz, 0.0, np.maximum(f, highpass_hz) ** (-exponent / 2))
    return np.fft.irfft(spec, n=n)


def _babble(rng: np.random.Generator, n: int, sample_rate: int, seed: int) -> np.ndarray:
    """A crowd of 4–7 synthetic talkers that are not corpus speakers, each looped to length."""
    out = np.zeros(n)
    for _ in range(int(rng.integers(4, 8))):
        talker = _BABBLE_SPEAKER_BASE + int(rng.integers(0, 10_000))
        parts, have = [], 0
        while have < n:
            emotion = EMOTIONS[int(rng.integers(len(EMOTIONS)))]
            utt = synthesize_utterance(
                talker, emotion, int(rng.integers(1 << 30)), sample_rate=sample_rate, seed=seed
            )
            parts.append(utt)
            have += len(utt)
        voice = np.concatenate(parts)[:n]
        out += np.roll(voice, int(rng.integers(n))) * 10 ** (rng.uniform(-4, 4) / 20)
    return out


def _hum(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """Mains hum: 50 or 60 Hz with slowly drifting harmonics and a faint noise floor."""
    mains = rng.choice([50.0, 60.0]) * (1 + rng.uniform(-0.004, 0.004))
    t = np.arange(n) / sample_rate
    harmonics = np.arange(1, 9)
    amps = rng.uniform(0.3, 1.0, len(harmonics)) / harmonics
    amps[2::2] *= rng.uniform(1.0, 3.0)  # odd harmonics of transformer buzz
    drift = 1 + 0.002 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t)
    phases = rng.uniform(0, 2 * np.pi, len(harmonics))
    angle = 2 * np.pi * mains * harmonics[:, None] * t * drift + phases[:, None]
    return (amps[:, None] * np.sin(angle)).sum(axis=0) + 0.01 * rng.standard_normal(n)


def _clicks(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """Sparse clicks (Poisson times, random amplitude) of decaying noise bursts."""
    impulses = np.zeros(n)
    count = rng.poisson(rng.uniform(5, 20) * n / sample_rate)
    impulses[rng.integers(0, n, count)] = rng.uniform(0.2, 1.0, count) * rng.choice([-1, 1], count)
    k = int(0.006 * sample_rate)
    burst = rng.standard_normal(k) * np.exp(-np.arange(k) / (0.0015 * sample_rate))
    return np.convolve(impulses, burst)[:n] + 0.003 * rng.standard_normal(n)


def _wind(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """Low-frequency rumble whose loudness follows slow random gusts."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sample_rate)
    cutoff = rng.uniform(200, 600)
    spec /= np.sqrt(1 + (f / cutoff) ** 4)
    rumble = np.fft.irfft(spec, n=n)
    gusts = _shaped_noise(rng, n, sample_rate, 2.0, highpass_hz=0.1)
    gusts = np.exp(1.2 * gusts / (gusts.std() + 1e-12))
    return rumble * gusts


def synthesize_noise(
    noise_class: str,
    clip: int,
    *,
    seconds: float = 4.0,
    sample_rate: int = 16000,
    seed: int = 0,
) -> np.ndarray:
    """One noise clip (float32 mono) of `noise_class` (see :data:`NOISE_CLASSES`)."""
    if noise_class not in NOISE_CLASSES:
        raise ValueError(
            f"unknown noise class {noise_class!r}; expected one of {', '.join(NOISE_CLASSES)}"
        )
    rng = stream(seed, ProceduralStream.NOISE, NOISE_CLASSES.index(noise_class), clip)
    n = int(seconds * sample_rate)
    if noise_class in ("white", "pink", "brown"):
        exponent = {"white": 0.0, "pink": 1.0, "brown": 2.0}[noise_class]
        wave = _shaped_noise(rng, n, sample_rate, exponent)
    elif noise_class == "babble":
        wave = _babble(rng, n, sample_rate, seed)
    elif noise_class == "hum":
        wave = _hum(rng, n, sample_rate)
    elif noise_class == "clicks":
        wave = _clicks(rng, n, sample_rate)
    else:
        wave = _wind(rng, n, sample_rate)
    target_db = -30.0 + rng.uniform(-3.0, 3.0)
    wave = wave * 10 ** (target_db / 20) / (np.sqrt(np.mean(wave**2)) + 1e-12)
    return _limit(wave)


def _speaker_id(speaker: int) -> str:
    return f"spk{speaker:03d}"


def generate_corpus(
    out_dir: str | Path,
    n_speakers: int = 8,
    utterances_per_speaker_per_emotion: int = 10,
    noise_clips_per_class: int = 4,
    sample_rate: int = 16000,
    seed: int = 0,
    noise_seconds: float = 4.0,
    emotion_strength: float = 1.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write the procedural corpus under `out_dir` and return (speech, noise) manifests.

    `emotion_strength` scales every emotion's departure from neutral prosody
    (:func:`scaled_prosody`); below 1 the classes overlap more.

    Layout: ``speech/spk000/spk000_hap_003.wav``, ``noise/babble/babble_001.wav`` (PCM_16),
    ``speech.parquet``, ``noise.parquet`` and ``corpus.json`` (the arguments; written last,
    so its presence marks a complete corpus). Called again with the same arguments on a
    complete directory it reads the manifests back instead of regenerating.
    """
    params = {
        "n_speakers": int(n_speakers),
        "utterances_per_speaker_per_emotion": int(utterances_per_speaker_per_emotion),
        "noise_clips_per_class": int(noise_clips_per_class),
        "sample_rate": int(sample_rate),
        "seed": int(seed),
        "noise_seconds": float(noise_seconds),
        "format_version": _FORMAT_VERSION,
    }
    if emotion_strength != 1.0:  # recorded only when set, so existing corpora stay valid
        params["emotion_strength"] = float(emotion_strength)
    if not emotion_strength >= 0:
        raise ValueError(f"emotion_strength must be >= 0, got {emotion_strength}")
    for key in ("n_speakers", "utterances_per_speaker_per_emotion", "sample_rate"):
        if params[key] <= 0:
            raise ValueError(f"{key} must be positive, got {params[key]}")
    if params["noise_clips_per_class"] < 0 or params["noise_seconds"] <= 0:
        raise ValueError("noise_clips_per_class must be >= 0 and noise_seconds > 0")
    out = Path(out_dir).expanduser().resolve()
    marker = out / "corpus.json"
    cached = _reuse(out, params)
    if cached is not None:
        return cached
    for sub in ("speech", "noise"):  # our own subfolders: drop stale files of other sizes
        shutil.rmtree(out / sub, ignore_errors=True)
    marker.unlink(missing_ok=True)

    speech_rows = []
    for spk in range(params["n_speakers"]):
        traits = speaker_traits(spk, seed)
        for emotion in EMOTIONS:
            for utt in range(params["utterances_per_speaker_per_emotion"]):
                wave = synthesize_utterance(
                    spk,
                    emotion,
                    utt,
                    sample_rate=sample_rate,
                    seed=seed,
                    emotion_strength=emotion_strength,
                )
                utt_id = f"{_speaker_id(spk)}_{emotion}_{utt:03d}"
                path = out / "speech" / _speaker_id(spk) / f"{utt_id}.wav"
                speech_rows.append(
                    _write(
                        path,
                        wave,
                        sample_rate,
                        {
                            "utt_id": utt_id,
                            "speaker": _speaker_id(spk),
                            "gender": traits.gender,
                            "label": emotion,
                        },
                    )
                )
    noise_rows = []
    for noise_class in NOISE_CLASSES:
        for clip in range(params["noise_clips_per_class"]):
            wave = synthesize_noise(
                noise_class, clip, seconds=noise_seconds, sample_rate=sample_rate, seed=seed
            )
            utt_id = f"{noise_class}_{clip:03d}"
            path = out / "noise" / noise_class / f"{utt_id}.wav"
            noise_rows.append(
                _write(
                    path,
                    wave,
                    sample_rate,
                    {
                        "utt_id": utt_id,
                        "label": noise_class,
                        "noise_class": noise_class,
                    },
                )
            )
    speech = make_manifest(speech_rows)
    noise = make_manifest(noise_rows, extra_columns=("noise_class",))
    write_manifest(speech, out / "speech.parquet")
    write_manifest(noise, out / "noise.parquet")
    marker.write_text(json.dumps(params, indent=2))
    return read_manifest(out / "speech.parquet"), read_manifest(out / "noise.parquet")


def _write(path: Path, wave: np.ndarray, sample_rate: int, row: dict) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, sample_rate, subtype="PCM_16")
    return {
        **row,
        "path": str(path),
        "duration": len(wave) / sample_rate,
        "sample_rate": sample_rate,
    }


def _reuse(out: Path, params: dict) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The existing corpus's manifests if it was made with `params` and is complete."""
    try:
        if json.loads((out / "corpus.json").read_text()) != params:
            return None
        speech = read_manifest(out / "speech.parquet")
        noise = read_manifest(out / "noise.parquet")
    except (OSError, ValueError):
        return None
    paths = pd.concat([speech["path"], noise["path"]])
    return (speech, noise) if all(Path(p).is_file() for p in paths) else None
