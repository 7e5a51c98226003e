"""The procedural corpus: determinism, reuse, speaker differences, learnable emotions, noises."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from raysim.data.feature_sources import ProceduralSERParams
from raysim.data.manifest import read_manifest
from raysim.data.procedural import (
    EMOTIONS,
    NOISE_CLASSES,
    PROSODY,
    generate_corpus,
    scaled_prosody,
    speaker_traits,
    synthesize_noise,
    synthesize_utterance,
)

SR = 16000
SMALL = dict(
    n_speakers=3, utterances_per_speaker_per_emotion=2, noise_clips_per_class=1, noise_seconds=1.0
)


def _frames(wave: np.ndarray, length: int = 640, hop: int = 160) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(wave.astype(np.float64), length)[::hop]


def _f0_track(wave: np.ndarray, sr: int = SR, hop: int = 160) -> np.ndarray:
    """f0 (Hz) of the voiced frames by normalised autocorrelation over 60–450 Hz.

    Voiced: the best normalised correlation exceeds 0.7; the period is the first lag
    reaching 90 % of that best, which avoids picking a multiple of the period.
    """
    frames = _frames(wave, hop=hop)
    frames = frames - frames.mean(axis=1, keepdims=True)
    lags = np.arange(sr // 450, sr // 60)
    half = frames.shape[1] - lags[-1]
    head = frames[:, :half]
    corr = np.stack([(head * frames[:, k : k + half]).sum(1) for k in lags], axis=1)
    norm = np.stack(
        [np.sqrt((head**2).sum(1) * (frames[:, k : k + half] ** 2).sum(1)) for k in lags], axis=1
    )
    corr = corr / (norm + 1e-12)
    best = corr.max(axis=1)
    voiced = best > 0.7
    first = np.argmax(corr[voiced] >= 0.9 * best[voiced, None], axis=1)
    return sr / lags[first]


def _features(wave: np.ndarray, sr: int = SR) -> list[float]:
    """Energy, f0 and spectral functionals of one utterance (a tiny eGeMAPS stand-in)."""
    frames = _frames(wave, 400, 160)
    energy_db = 10 * np.log10((frames**2).mean(axis=1) + 1e-10)
    loud = energy_db > energy_db.max() - 25
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(400), axis=1))
    freqs = np.fft.rfftfreq(400, 1 / sr)
    centroid = (spectrum * freqs).sum(1) / (spectrum.sum(1) + 1e-12)
    zcr = (np.diff(np.signbit(frames), axis=1)).mean(axis=1)
    log_f0 = np.log(_f0_track(wave, hop=480))
    return [
        energy_db[loud].mean(),
        energy_db[loud].std(),
        centroid[loud].mean(),
        zcr[loud].mean(),
        log_f0.mean(),
        log_f0.std(),
        loud.mean(),
    ]


def test_utterances_are_deterministic_and_vary():
    a = synthesize_utterance(3, "hap", 5, seed=7)
    assert np.array_equal(a, synthesize_utterance(3, "hap", 5, seed=7))
    assert a.dtype == np.float32 and 1.4 * SR < len(a) < 2.6 * SR
    assert 0 < np.abs(a).max() <= 0.9
    for other in (
        synthesize_utterance(3, "hap", 6, seed=7),
        synthesize_utterance(3, "hap", 5, seed=8),
        synthesize_utterance(4, "hap", 5, seed=7),
    ):
        n = min(len(a), len(other))
        assert not np.allclose(a[:n], other[:n])


def test_unknown_emotion_and_noise_class_are_named():
    with pytest.raises(ValueError, match="'bored'"):
        synthesize_utterance(0, "bored", 0)
    with pytest.raises(ValueError, match="'traffic'"):
        synthesize_noise("traffic", 0)


def test_speakers_differ_in_measured_f0():
    medians = {}
    for spk in range(6):
        f0 = np.concatenate([_f0_track(synthesize_utterance(spk, "neu", u)) for u in range(3)])
        medians[spk] = np.median(f0)
        assert medians[spk] == pytest.approx(speaker_traits(spk).f0_hz, rel=0.2)
    female = [medians[s] for s in range(6) if speaker_traits(s).gender == "F"]
    male = [medians[s] for s in range(6) if speaker_traits(s).gender == "M"]
    assert female and male and min(female) > max(male)


def test_emotion_is_learnable_on_held_out_speakers():
    X, y, groups = [], [], []
    for spk in range(8):
        for label, emotion in enumerate(EMOTIONS):
            for utt in range(6):
                X.append(_features(synthesize_utterance(spk, emotion, utt)))
                y.append(label)
                groups.append(spk)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    scores = cross_val_score(
        model, np.array(X), np.array(y), groups=np.array(groups), cv=GroupKFold(n_splits=4)
    )
    assert scores.mean() > 0.6, scores  # chance is 0.25


def _median_f0(speaker: int, emotion: str, strength: float) -> float:
    tracks = [
        _f0_track(synthesize_utterance(speaker, emotion, u, emotion_strength=strength))
        for u in range(3)
    ]
    return float(np.median(np.concatenate(tracks)))


def test_emotion_strength_scales_the_measured_departure_from_neutral():
    for emotion in EMOTIONS:
        assert scaled_prosody(emotion) == PROSODY[emotion]  # exact: default corpora unchanged
        assert scaled_prosody(emotion, 0.0) == PROSODY["neu"]
    assert np.array_equal(
        synthesize_utterance(1, "ang", 2), synthesize_utterance(1, "ang", 2, emotion_strength=1.0)
    )
    # f0 shift (semitones) against the same utterances at strength 0: happy +3, sad -2
    for speaker, emotion, sign in ((1, "hap", 1), (2, "sad", -1)):
        neutral = _median_f0(speaker, emotion, 0.0)
        shift = {s: 12 * np.log2(_median_f0(speaker, emotion, s) / neutral) for s in (1.0, 0.4)}
        assert sign * shift[1.0] > 1.5, shift
        assert 0.2 < shift[0.4] / shift[1.0] < 0.6, shift


def test_emotion_strength_is_part_of_the_corpus_identity(tmp_path):
    small = {**SMALL, "noise_clips_per_class": 0}
    generate_corpus(tmp_path, **small)
    assert "emotion_strength" not in (tmp_path / "corpus.json").read_text()
    mild, _ = generate_corpus(tmp_path, **small, emotion_strength=0.5)  # regenerated
    assert '"emotion_strength": 0.5' in (tmp_path / "corpus.json").read_text()
    wave, _ = sf.read(mild.loc[0, "path"], dtype="float32")
    utt = synthesize_utterance(0, mild.loc[0, "label"], 0, emotion_strength=0.5)
    assert np.abs(wave - utt).max() < 1e-4
    with pytest.raises(ValueError, match="emotion_strength"):
        generate_corpus(tmp_path, **small, emotion_strength=-1.0)
    with pytest.raises(ValueError, match="emotion_strength"):
        ProceduralSERParams(source="procedural_ser", emotion_strength=-0.1)


def test_noise_classes_have_their_character():
    clips = {c: synthesize_noise(c, 0, seconds=2.0).astype(np.float64) for c in NOISE_CLASSES}
    freqs = np.fft.rfftfreq(2 * SR, 1 / SR)
    power = {c: np.abs(np.fft.rfft(x)) ** 2 for c, x in clips.items()}
    centroid = {c: (p * freqs).sum() / p.sum() for c, p in power.items()}
    assert centroid["white"] > centroid["pink"] > centroid["brown"]
    assert power["hum"][freqs < 1000].sum() > 0.9 * power["hum"].sum()
    assert power["wind"][freqs < 1000].sum() > 0.9 * power["wind"].sum()
    crest = {c: np.abs(x).max() / np.sqrt((x**2).mean()) for c, x in clips.items()}
    assert crest["clicks"] == max(crest.values())
    assert power["babble"][(freqs > 100) & (freqs < 4000)].sum() > 0.8 * power["babble"].sum()
    assert np.array_equal(clips["babble"], synthesize_noise("babble", 0, seconds=2.0))


def test_generate_corpus_writes_manifests_and_reuses(tmp_path):
    speech, noise = generate_corpus(tmp_path / "a", **SMALL)
    assert len(speech) == 3 * len(EMOTIONS) * 2 and len(noise) == len(NOISE_CLASSES)
    assert set(speech["label"]) == set(EMOTIONS) and speech["speaker"].nunique() == 3
    assert (speech["sample_rate"] == SR).all() and set(noise["noise_class"]) == set(NOISE_CLASSES)
    read_back = read_manifest(tmp_path / "a" / "speech.parquet")
    assert read_back.equals(speech)
    info = sf.info(speech.loc[0, "path"])
    assert info.subtype == "PCM_16" and info.frames / SR == pytest.approx(speech.loc[0, "duration"])
    wave, _ = sf.read(speech.loc[0, "path"], dtype="float32")
    utt = synthesize_utterance(0, speech.loc[0, "label"], 0)
    assert np.abs(wave - utt).max() < 1e-4  # the file is the in-memory utterance, quantised

    mtimes = {p: (tmp_path / "a" / p).stat().st_mtime_ns for p in ("speech.parquet", "corpus.json")}
    again, _ = generate_corpus(tmp_path / "a", **SMALL)
    assert again.equals(speech)
    assert mtimes == {p: (tmp_path / "a" / p).stat().st_mtime_ns for p in mtimes}

    other, _ = generate_corpus(tmp_path / "b", **SMALL)
    assert other["path"].str.replace("/b/", "/a/").tolist() == speech["path"].tolist()
    for pa, pb in zip(speech["path"], other["path"], strict=True):
        assert np.array_equal(sf.read(pa)[0], sf.read(pb)[0])

    bigger, _ = generate_corpus(tmp_path / "a", **{**SMALL, "n_speakers": 4})
    assert bigger["speaker"].nunique() == 4


def test_generate_corpus_rejects_bad_sizes(tmp_path):
    with pytest.raises(ValueError, match="n_speakers"):
        generate_corpus(tmp_path, n_speakers=0)
