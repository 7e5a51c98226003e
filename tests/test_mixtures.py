"""Federated SE mixtures on real audio: FSDD speech (8 kHz) + ESC-10 noise (44.1 kHz OGG)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from pydantic import ValidationError

from raysim.audio.cache import AudioCache, chunk
from raysim.data.corpora import build_manifest
from raysim.data.procedural import EMOTIONS, generate_corpus
from raysim.data.se_examples import load_example, write_mixtures
from raysim.data.se_recipe import SPEC_COLUMNS, MixtureError, build_mixture_spec
from raysim.registry import DATA_SOURCES

SR = 8000  # FSDD's own rate: only the noise is resampled
CACHE = AudioCache()  # shared by the tests of this module: each file is decoded once


@pytest.fixture(scope="module")
def speech(corpus_root) -> pd.DataFrame:
    df = build_manifest("fsdd", corpus_root / "fsdd", probe=False)
    index = df["utt_id"].str.rsplit("_", n=1).str[1].astype(int)
    return df[index < 6].reset_index(drop=True)  # 6 speakers x 10 digits x 6 takes


@pytest.fixture(scope="module")
def noise(corpus_root) -> pd.DataFrame:
    df = build_manifest("esc10", corpus_root / "esc10", probe=False)
    return df.groupby("noise_class").head(5).reset_index(drop=True)


#: noise split by class, 2 classes a client, SNR U[-5, 10] dB, 40 % supervised clients
CLASSES_RECIPE = dict(
    noise_partition="classes", classes_per_client=2, snr_range_db=(-5.0, 10.0), p_supervised=0.4
)


def _params(n_clients: int = 5, test_fraction: float = 1 / 6, by: str = "groups", **kw):
    """se_mixtures params (the speech and noise sets are passed to the recipe directly)."""
    unused = {"manifest": "unused.parquet"}
    return DATA_SOURCES.parse(
        {
            "source": "se_mixtures", "speech": unused, "noise": unused, "sample_rate": SR,
            "chunk_seconds": 1.0, "partition": {"name": "group", "n_clients": n_clients},
            "held_out": {"by": by, "fraction": test_fraction}, **kw,
        }
    )  # fmt: skip


def _build(speech, noise, seed: int = 0, **kw) -> pd.DataFrame:
    return build_mixture_spec(speech, noise, _params(**kw), seed, cache=CACHE)


def _snr(speech: np.ndarray, noise: np.ndarray) -> float:
    s, n = speech.astype(np.float64), noise.astype(np.float64)
    return 10 * math.log10(np.sum(s**2) / np.sum(n**2))


@pytest.fixture(scope="module")
def classes_spec(speech, noise) -> pd.DataFrame:
    return _build(speech, noise, **CLASSES_RECIPE)


@pytest.fixture(scope="module")
def noise_only_spec(speech, noise) -> pd.DataFrame:
    """CLASSES_RECIPE with PULSE's noise-only clips in place of MixIT's extra noise."""
    return _build(speech, noise, **CLASSES_RECIPE, noise_clip="noise_only")


def test_every_mixture_has_the_requested_snr(classes_spec):
    assert list(classes_spec.columns) == list(SPEC_COLUMNS)
    train = classes_spec[classes_spec["split"] == "train"]
    test = classes_spec[classes_spec["split"] == "test"]
    assert train["snr_db"].between(-5.0, 10.0).all() and train["snr_db"].std() > 2
    assert set(test["snr_db"]) == {-5.0, 0.0, 5.0, 10.0}
    for _, row in classes_spec.iterrows():
        ex = load_example(row, cache=CACHE)
        assert ex.mixture.shape == ex.speech.shape == (SR,)
        assert abs(_snr(ex.speech, ex.noise) - row["snr_db"]) < 0.1
        np.testing.assert_allclose(ex.mixture, ex.speech + ex.noise, atol=1e-6)


def test_short_speech_is_zero_padded_and_noise_resampled(classes_spec):
    row = classes_spec.iloc[0]
    ex = load_example(row, cache=CACHE)
    raw, sr = sf.read(row["speech_path"], dtype="float32")
    assert sr == SR and len(raw) < SR  # FSDD digits are shorter than the 1 s chunk
    np.testing.assert_array_equal(ex.speech[: len(raw)], raw)
    assert not ex.speech[len(raw) :].any()
    noise_sr = sf.info(row["noise_path"]).samplerate
    assert noise_sr == 44100 and ex.noises.shape == (1, SR)


@pytest.mark.parametrize("clip", ["extra_noise", "noise_only"])
def test_clients_use_only_their_noise_classes(clip, classes_spec, noise_only_spec, noise):
    spec = classes_spec if clip == "extra_noise" else noise_only_spec
    train = spec[spec["split"] == "train"]
    per_client = {}
    for client, rows in train.groupby("client_id"):
        used = set(rows["noise_class"]) | set(rows[f"{clip}_class"])
        assert len(set(rows["noise_class"])) == 2 and used == set(rows["noise_class"])
        per_client[client] = set(rows["noise_class"])
    assert set().union(*per_client.values()) == set(noise["noise_class"])  # 5 x 2 = all 10


def test_speaker_groups_are_contiguous_disjoint_and_test_speakers_held_out(classes_spec):
    train = classes_spec[classes_spec["split"] == "train"]
    groups = [sorted(set(rows["speaker"])) for _, rows in train.groupby("client_id")]
    assert all(len(g) == 1 for g in groups)  # 5 training speakers, 5 clients
    assert sum(groups, []) == sorted(set(train["speaker"]))
    test_speakers = set(classes_spec.loc[classes_spec["split"] == "test", "speaker"])
    assert len(test_speakers) == 1 and not test_speakers & set(train["speaker"])
    assert (classes_spec.loc[classes_spec["split"] == "test", "client_id"] == -1).all()


def test_supervised_clients_are_the_first_floor_p_c(classes_spec):
    train = classes_spec[classes_spec["split"] == "train"]
    supervised = train.groupby("client_id")["supervised"].agg(["min", "max"])
    assert (supervised["min"] == supervised["max"]).all()
    assert supervised["min"].tolist() == [True, True, False, False, False]  # floor(0.4 * 5)


def test_half_of_each_speakers_pairs_feed_the_extra_noise_pool(classes_spec, speech, noise):
    train = classes_spec[classes_spec["split"] == "train"]
    for spk, rows in train.groupby("speaker"):
        n_utts = int((speech["speaker"] == spk).sum())
        assert len(rows) == math.ceil(n_utts / 2)
        assert rows["speech_utt_id"].is_unique
    assert train["extra_noise_path"].notna().all()
    assert (train["extra_noise_path"] != train["noise_path"]).mean() > 0.9
    assert train["noise_only_path"].isna().all()
    assert load_example(train.iloc[0], cache=CACHE).noise_only is None
    no_pool = _build(speech, noise, noise_clip="noise_only")  # PULSE: every utterance mixed
    no_pool_train = no_pool[no_pool["split"] == "train"]
    assert len(no_pool_train) == int(
        (~speech["speaker"].isin(no_pool.loc[no_pool["split"] == "test", "speaker"])).sum()
    )
    assert no_pool["extra_noise_path"].isna().all() and no_pool["noise_only_path"].notna().all()


def _same_samples(row: pd.Series, a: str, b: str, n: int = SR) -> bool:
    """Whether clips `a` and `b` of an example share samples of one file."""
    if row[f"{a}_path"] != row[f"{b}_path"]:
        return False
    if len(CACHE.load(row[f"{a}_path"], SR)) <= n:  # looped/padded chunks cover the file
        return True
    start_a, start_b = int(row[f"{a}_offset"]), int(row[f"{b}_offset"])
    return start_a < start_b + n and start_b < start_a + n


def _overlaps(row: pd.Series) -> bool:
    """Whether the noise-only clip shares samples with a noise of the example."""
    return any(
        _same_samples(row, p, "noise_only")
        for p in ("noise", "noise2")
        if isinstance(row[f"{p}_path"], str)
    )


def test_noise_only_clips_never_overlap_the_examples_noise(noise_only_spec, speech, noise):
    n = SR
    assert not any(_overlaps(row) for _, row in noise_only_spec.iterrows())
    train = noise_only_spec[noise_only_spec["split"] == "train"]
    assert (train["noise_only_path"] != train["noise_path"]).all()  # 4 files per class there
    # One file per class forces noise-only clips from the same file: other offsets then.
    single = noise.groupby("noise_class").head(1)
    spec = _build(
        speech,
        single,
        noise_partition="classes",
        classes_per_client=1,
        test_fraction=0.0,
        n_clients=3,
        noise_clip="noise_only",
    )
    same_file = spec["noise_only_path"] == spec["noise_path"]
    assert same_file.all()
    assert not any(_overlaps(row) for _, row in spec.iterrows())
    for _, row in spec.head(20).iterrows():
        ex = load_example(row, cache=CACHE)
        wave = CACHE.load(row["noise_path"], SR)
        np.testing.assert_array_equal(ex.noise_only, wave[row["noise_only_offset"] :][:n])


def test_two_noises_at_natural_level(speech, noise):
    spec = _build(
        speech,
        noise,
        n_noises=2,
        noise_partition="dirichlet",
        dirichlet_alpha=0.3,
        test_snrs_db=None,
        speech_fill="loop",
    )
    assert (spec["noise_gain"] == 1.0).all() and spec["noise2_path"].notna().all()
    train = spec[spec["split"] == "train"]
    assert (train["noise2_path"] != train["noise_path"]).all()
    assert not any(_same_samples(row, "noise", "noise2") for _, row in spec.iterrows())
    assert not any(_overlaps(row) for _, row in spec.iterrows())
    for _, row in spec.sample(25, random_state=0).iterrows():
        ex = load_example(row, cache=CACHE)
        raw, _ = sf.read(row["speech_path"], dtype="float32")
        assert ex.noises.shape == (2, SR) and len(raw) < SR
        np.testing.assert_array_equal(ex.speech, np.resize(raw, SR))  # looped, not padded
        assert abs(_snr(ex.speech, ex.noise) - row["snr_db"]) < 0.1
    # Dirichlet(0.3): each client is dominated by a few classes, differently per client.
    shares = pd.crosstab(train["client_id"], train["noise_class"], normalize="index")
    assert shares.max(axis=1).mean() > 0.3
    assert shares.idxmax(axis=1).nunique() > 1


def test_same_seed_same_spec_other_seed_other_spec(speech, noise, classes_spec):
    again = _build(speech, noise, **CLASSES_RECIPE)
    pd.testing.assert_frame_equal(again, classes_spec)
    other = _build(speech, noise, **CLASSES_RECIPE, seed=1)
    assert not other["noise_path"].equals(classes_spec["noise_path"])


def test_manifest_test_split_holds_out_files(speech, noise):
    spec = _build(speech, noise, by="split", n_clients=6, noise_clip="noise_only")
    test = spec[spec["split"] == "test"]
    held = set(speech.loc[speech["split"] == "test", "utt_id"])
    assert set(test["speech_utt_id"]) == held
    assert not held & set(spec.loc[spec["split"] == "train", "speech_utt_id"])
    train_noise = set(spec.loc[spec["split"] == "train", "noise_path"])
    assert not set(test["noise_path"]) & train_noise  # held-out noise files too


def test_test_examples_can_be_longer_than_training_chunks(speech, noise, classes_spec):
    spec = _build(speech, noise, **CLASSES_RECIPE, test_chunk_seconds=2.0)
    test = spec[spec["split"] == "test"]
    train = spec[spec["split"] == "train"]
    assert (test["num_samples"] == 2 * SR).all() and (train["num_samples"] == SR).all()
    ex = load_example(test.iloc[0], cache=CACHE)
    assert ex.mixture.shape == ex.speech.shape == (2 * SR,)
    # the training examples are those of the default recipe, unchanged
    default_train = classes_spec[classes_spec["split"] == "train"]
    pd.testing.assert_frame_equal(
        train.reset_index(drop=True), default_train.reset_index(drop=True)
    )


def test_spec_survives_parquet_and_writes_wavs(classes_spec, tmp_path):
    spec = classes_spec.head(4)
    spec.to_parquet(tmp_path / "spec.parquet", index=False)
    back = pd.read_parquet(tmp_path / "spec.parquet")
    for (_, a), (_, b) in zip(spec.iterrows(), back.iterrows(), strict=True):
        ea, eb = load_example(a, cache=CACHE), load_example(b, cache=CACHE)
        np.testing.assert_array_equal(ea.mixture, eb.mixture)
        np.testing.assert_array_equal(ea.extra_noise, eb.extra_noise)
    table = write_mixtures(spec, tmp_path / "out", cache=CACHE)
    assert (tmp_path / "out" / "mixtures.parquet").is_file()
    for _, row in table.iterrows():
        ex = load_example(row, cache=CACHE)
        for role, ref in [
            ("mixture", ex.mixture),
            ("speech", ex.speech),
            ("noise1", ex.noises[0]),
            ("extra_noise", ex.extra_noise),
        ]:
            wave, sr = sf.read(row[f"{role}_wav"], dtype="float32")
            assert sr == SR and np.abs(wave - ref * row["write_scale"]).max() < 1e-3


def test_chunk_pads_or_loops():
    wave = np.arange(1, 6, dtype=np.float32)
    assert chunk(wave, 1, 3, "pad").tolist() == [2, 3, 4]
    assert chunk(wave, 3, 4, "pad").tolist() == [4, 5, 0, 0]
    assert chunk(wave, 0, 7, "loop").tolist() == [1, 2, 3, 4, 5, 1, 2]


def test_bad_inputs_are_named(speech, noise):
    with pytest.raises(ValidationError, match="n_noises"):
        _params(n_noises=3)
    with pytest.raises(ValidationError, match="snr_range_db"):
        _params(snr_range_db=(10.0, -5.0))
    with pytest.raises(MixtureError, match="n_clients=9 exceeds the number of groups"):
        _build(speech, noise, n_clients=9)
    with pytest.raises(MixtureError, match="data.partition.name='dirichlet'"):
        build_mixture_spec(speech, noise, _params(partition={"name": "dirichlet"}), 0)
    with pytest.raises(MixtureError, match="classes_per_client=11"):
        _build(speech, noise, noise_partition="classes", classes_per_client=11)
    unlabelled = noise.assign(noise_class=None, label=None)
    with pytest.raises(MixtureError, match="noise_class/label"):
        _build(speech, unlabelled, noise_partition="classes")
    with pytest.raises(MixtureError, match="has no speaker"):
        _build(speech.assign(speaker=None), noise)


def test_procedural_corpus_feeds_the_recipe(tmp_path):
    speech, noise = generate_corpus(
        tmp_path,
        n_speakers=4,
        utterances_per_speaker_per_emotion=2,
        noise_clips_per_class=2,
        noise_seconds=2.0,
    )
    params = _params(
        n_clients=3,
        chunk_seconds=1.5,
        test_fraction=0.25,
        n_noises=2,
        noise_partition="classes",
        classes_per_client=3,
        sample_rate=16000,
    )
    spec = build_mixture_spec(speech, noise, params, 0, cache=AudioCache())
    train = spec[spec["split"] == "train"]
    assert train.groupby("client_id")["speaker"].nunique().tolist() == [1, 1, 1]
    assert len(train) == 3 * math.ceil(len(EMOTIONS) * 2 / 2)
    assert (train["noise_gain"] == 1.0).all() and train["snr_db"].between(-20, 30).all()
    ex = load_example(spec.iloc[0])
    assert ex.mixture.shape == (24000,) and ex.extra_noise is not None


def test_held_out_speakers_by_name_or_by_fold(speech, noise):
    def test_speakers(held_out: dict) -> set:
        spec = _build(speech, noise, n_clients=2, held_out={**held_out, "fraction": 1 / 6})
        return set(spec.loc[spec["split"] == "test", "speaker"])

    speakers = sorted(speech["speaker"].unique())
    assert test_speakers({"groups": speakers[:2]}) == set(speakers[:2])
    folds = [test_speakers({"folds": 3, "fold": k}) for k in range(3)]
    assert set().union(*folds) == set(speakers) and sum(map(len, folds)) == len(speakers)
    with pytest.raises(MixtureError, match="no speech of speakers"):
        test_speakers({"groups": ["nobody"]})


def test_held_out_share_defaults_to_a_fifth_whether_or_not_the_section_is_written():
    assert _params(held_out={"by": "split"}).held_out.fraction == 0.2
    unwritten = DATA_SOURCES.parse(
        {"source": "se_mixtures", "speech": {"manifest": "s"}, "noise": {"manifest": "n"}}
    )
    assert unwritten.held_out.fraction == 0.2


def test_a_single_file_noise_class_is_split_in_time_not_dropped(speech, noise):
    """One long file of a class: the test set takes its last fifth, training the rest."""
    one = noise[noise["noise_class"] == "rain"].head(1)
    rest = noise[noise["noise_class"] != "rain"]
    noises = pd.concat([rest, one], ignore_index=True)
    spec = _build(speech, noises, chunk_seconds=0.5, test_fraction=0.2, n_clients=4)
    path = one["path"].iloc[0]
    lo = int(len(CACHE.load(path, SR)) * 0.8)
    test, train = spec[spec["split"] == "test"], spec[spec["split"] == "train"]
    assert set(test["noise_class"]) == set(noise["noise_class"])  # rain included
    in_test = test.loc[test["noise_path"] == path, "noise_offset"]
    in_train = train.loc[train["noise_path"] == path, "noise_offset"]
    assert len(in_test) and len(in_train)
    assert (in_test >= lo).all() and (in_train + SR // 2 <= lo).all()

    with pytest.raises(MixtureError, match=r"noise class 'rain' has one file.*too short"):
        _build(speech, noises, chunk_seconds=3.0, test_fraction=0.2, n_clients=4)
