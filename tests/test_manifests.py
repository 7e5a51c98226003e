"""Manifest schema/Parquet helpers and every corpus builder on its published layout."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from corpus_checks import CHECKS

from raysim.data.corpora import (
    BUILDERS,
    SPEECH_LIKE_LABELS,
    CorpusLayoutError,
    SkippedFilesWarning,
    build_manifest,
)
from raysim.data.manifest import (
    REQUIRED_COLUMNS,
    ManifestError,
    make_manifest,
    read_manifest,
    validate_manifest,
    write_manifest,
)

SR = 16000


def _audio(path: Path, seconds: float = 0.05, sr: int = SR, channels: int = 1) -> Path:
    """A short sine file; format (WAV/FLAC) from the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    wave = 0.1 * np.sin(2 * np.pi * 440 * t)
    sf.write(path, np.tile(wave[:, None], (1, channels)), sr)
    return path


def _labels(df: pd.DataFrame) -> dict[str, str]:
    return dict(zip(df["utt_id"], df["label"], strict=True))


# ---------------------------------------------------------------- manifest table


def test_manifest_roundtrip_keeps_rows_types_and_extra_columns(tmp_path):
    wav = _audio(tmp_path / "a.wav", seconds=0.25)
    df = make_manifest(
        [
            {
                "utt_id": "a",
                "path": str(wav),
                "speaker": "s1",
                "gender": "F",
                "label": "neu",
                "split": "train",
                "session": 3,
            },
            {"utt_id": "b", "path": str(tmp_path / "b.wav"), "split": "2", "session": 4},
        ],
        extra_columns=("session",),
    )
    out = read_manifest(write_manifest(df, tmp_path / "sub" / "m.parquet"))
    assert list(out.columns) == [*REQUIRED_COLUMNS, "session"]
    pd.testing.assert_frame_equal(out, df)
    assert out.loc[1, "speaker"] is None and out["sample_rate"].dtype == "Int64"


def test_missing_required_column_is_named(tmp_path):
    df = make_manifest([{"utt_id": "a", "path": "/x/a.wav"}]).drop(columns=["gender"])
    with pytest.raises(ManifestError, match="gender"):
        validate_manifest(df)
    df.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ManifestError, match=r"bad\.parquet.*gender"):
        read_manifest(tmp_path / "bad.parquet")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"utt_id": "a", "path": "rel/a.wav"}, "rel/a.wav"),
        ({"utt_id": "a", "path": "/x/a.wav", "gender": "male"}, "'male'"),
        ({"utt_id": "a", "path": "/x/a.wav", "sample_rate": -8000}, "-8000"),
        ({"utt_id": "a", "path": "/x/a.wav", "sample_rate": 8000.5}, "8000.5"),
    ],
)
def test_bad_values_are_named(row, message):
    with pytest.raises(ManifestError, match=re.escape(message)):
        validate_manifest(make_manifest([row]))


def test_duplicate_utt_ids_are_named():
    rows = [{"utt_id": "dup", "path": "/x/a.wav"}, {"utt_id": "dup", "path": "/x/b.wav"}]
    with pytest.raises(ManifestError, match="unique.*dup"):
        validate_manifest(make_manifest(rows))


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    good = _audio(tmp_path / "good.wav", seconds=0.5, sr=8000)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk" + bytes(range(64)))
    zero_frames = tmp_path / "zero_frames.wav"
    sf.write(zero_frames, np.zeros(0, dtype=np.float32), SR)
    zero_bytes = tmp_path / "zero_bytes.wav"
    zero_bytes.write_bytes(b"")
    return {
        "good": good,
        "corrupt": corrupt,
        "zero_frames": zero_frames,
        "zero_bytes": zero_bytes,
        "missing": tmp_path / "missing.wav",
    }


def test_check_audio_skips_unreadable_files_with_reasons(tmp_path):
    files = _bad_files(tmp_path)
    df = make_manifest([{"utt_id": k, "path": str(p)} for k, p in files.items()])
    manifest, skipped = validate_manifest(df, check_audio=True, on_error="skip")
    assert manifest["utt_id"].tolist() == ["good"]
    assert manifest.loc[0, "duration"] == pytest.approx(0.5)
    assert manifest.loc[0, "sample_rate"] == 8000
    reasons = dict(zip(skipped["utt_id"], skipped["reason"], strict=True))
    assert set(reasons) == {"corrupt", "zero_frames", "zero_bytes", "missing"}
    assert "header" in reasons["corrupt"]
    assert "no samples" in reasons["zero_frames"]
    assert "0 bytes" in reasons["zero_bytes"]
    assert "not found" in reasons["missing"]
    assert (skipped["path"] == [str(files[k]) for k in skipped["utt_id"]]).all()


def test_check_audio_raise_names_the_file(tmp_path):
    files = _bad_files(tmp_path)
    df = make_manifest([{"utt_id": "c", "path": str(files["corrupt"])}])
    with pytest.raises(ManifestError, match="corrupt.wav"):
        validate_manifest(df, check_audio=True, on_error="raise")


# ---------------------------------------------------------------- corpora in published layouts
@pytest.mark.parametrize("corpus", sorted(CHECKS))
def test_published_layout(corpus_root, corpus):
    CHECKS[corpus](build_manifest(corpus, corpus_root / corpus), corpus_root / corpus)


# ---------------------------------------------------------------- tiny trees, exact layouts


def test_librispeech_layout(tmp_path):
    root = tmp_path / "LibriSpeech"
    (root).mkdir()
    (root / "SPEAKERS.TXT").write_text(
        "; ID  |SEX| SUBSET           |MINUTES| NAME\n"
        "19   | F | train-clean-100  | 25.19 | Kara Shallenberg\n"
        "84   | M | dev-clean        |  8.02 | Christie Nowak\n"
    )
    for subset, spk, chap, utt in [
        ("train-clean-100", "19", "198", 0),
        ("train-clean-100", "19", "198", 1),
        ("dev-clean", "84", "121123", 0),
    ]:
        _audio(root / subset / spk / chap / f"{spk}-{chap}-{utt:04d}.flac")
    (root / "dev-clean" / "84" / "121123" / "84-121123.trans.txt").write_text("x\n")
    df = build_manifest("librispeech", root)
    assert df["utt_id"].tolist() == ["19-198-0000", "19-198-0001", "84-121123-0000"]
    assert df["split"].tolist() == ["train", "train", "dev"]
    assert df["gender"].tolist() == ["F", "F", "M"]
    assert df["chapter"].tolist() == ["198", "198", "121123"]
    assert df["path"].str.endswith(".flac").all() and (df["sample_rate"] == SR).all()
    only_dev = build_manifest("librispeech", root, subsets=["dev-clean"])
    assert only_dev["subset"].tolist() == ["dev-clean"]


def test_voicebank_layout(tmp_path):
    for folder in ("clean_trainset_28spk_wav", "noisy_trainset_28spk_wav"):
        for name in ("p226_001.wav", "p287_002.wav"):
            _audio(tmp_path / folder / name)
    _audio(tmp_path / "clean_testset_wav" / "p232_001.wav")
    _audio(tmp_path / "noisy_testset_wav" / "p232_001.wav")
    df = build_manifest("voicebank_demand", tmp_path)
    assert df["speaker"].tolist() == ["p226", "p232", "p287"]
    assert df["split"].tolist() == ["train", "test", "train"]
    assert (df["path"] == df["clean_path"]).all()
    assert df["noisy_path"].str.contains("noisy_").all()
    noisy = build_manifest("voicebank_demand", tmp_path, signal="noisy")
    assert (noisy["path"] == noisy["noisy_path"]).all()


def test_wham_layout(tmp_path):
    for sub in ("tr", "cv", "tt"):
        _audio(tmp_path / "wham_noise" / sub / f"01aa010a_0.1_{sub}.wav", channels=2)
    df = build_manifest("wham_noise", tmp_path)
    assert dict(zip(df["utt_id"].str[:2], df["split"], strict=True)) == {
        "tr": "train",
        "cv": "dev",
        "tt": "test",
    }
    assert df["noise_class"].isna().all()


def test_fsd50k_layout_drops_speech_like_labels(tmp_path):
    assert len(SPEECH_LIKE_LABELS) == 28
    gt = tmp_path / "FSD50K.ground_truth"
    gt.mkdir()
    (gt / "dev.csv").write_text(
        "fname,labels,mids,split\n"
        '64760,"Electric_guitar,Guitar,Musical_instrument,Music","/m/02sgy,/m/0342h,/m/04szw,/m/04rlf",train\n'
        '16399,"Bark,Dog,Animal,Speech,Human_voice","/m/05tny_,/m/0bt9lr,/m/0jbk,/m/09x0r,/m/09l8g",train\n'
        '21200,"Rain,Water",/m/06mb1,val\n'
    )
    (gt / "eval.csv").write_text(
        'fname,labels,mids\n37199,"Cough,Human_voice",/m/01b_21\n21000,"Sink_(filling_or_washing),Water",/m/0130jx\n'
    )
    for sub, fname in [
        ("dev", "64760"),
        ("dev", "16399"),
        ("dev", "21200"),
        ("eval", "37199"),
        ("eval", "21000"),
    ]:
        _audio(tmp_path / f"FSD50K.{sub}_audio" / f"{fname}.wav")
    df = build_manifest("fsd50k", tmp_path)
    assert df["utt_id"].tolist() == ["dev/21200", "dev/64760", "eval/21000"]
    assert df["split"].tolist() == ["dev", "train", "test"]
    assert df["label"].tolist() == ["Rain", "Electric_guitar", "Sink_(filling_or_washing)"]
    kept = build_manifest("fsd50k", tmp_path, exclude_labels=())
    assert len(kept) == 5


def test_demand_layout(tmp_path):
    for env in ("DKITCHEN", "NPARK"):
        for ch in (1, 2, 16):
            _audio(tmp_path / env / f"ch{ch:02d}.wav")
    df = build_manifest("demand", tmp_path)
    assert len(df) == 6 and set(df["noise_class"]) == {"DKITCHEN", "NPARK"}
    assert dict(zip(df["label"], df["category"], strict=False)) == {
        "DKITCHEN": "domestic",
        "NPARK": "nature",
    }
    ch1 = build_manifest("demand", tmp_path, channels=[1])
    assert ch1["utt_id"].tolist() == ["DKITCHEN_ch01", "NPARK_ch01"]


def test_esc50_layout_and_its_esc10_subset(tmp_path):
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text(
        "filename,fold,target,category,esc10,src_file,take\n"
        "1-100032-A-0.wav,1,0,dog,True,100032,A\n"
        "1-100038-A-14.wav,1,14,chirping_birds,False,100038,A\n"
        "2-102414-B-17.wav,2,17,pouring_water,False,102414,B\n"
    )
    for name in ("1-100032-A-0.wav", "1-100038-A-14.wav", "2-102414-B-17.wav"):
        _audio(tmp_path / "audio" / name)
    df = build_manifest("esc50", tmp_path)
    assert _labels(df) == {
        "1-100032-A-0": "dog",
        "1-100038-A-14": "chirping_birds",
        "2-102414-B-17": "pouring_water",
    }
    assert df["split"].tolist() == ["1", "1", "2"] and df["target"].tolist() == [0, 14, 17]
    esc10 = build_manifest("esc10", tmp_path)
    assert esc10["utt_id"].tolist() == ["1-100032-A-0"] and esc10["esc10"].all()


def test_iemocap_layout(tmp_path):
    s1 = tmp_path / "Session1"
    wav = s1 / "sentences" / "wav"
    evald = s1 / "dialog" / "EmoEvaluation"
    evald.mkdir(parents=True)
    utts = {
        "Ses01F_impro01": ["Ses01F_impro01_F000", "Ses01F_impro01_M003"],
        "Ses01M_script01_1": ["Ses01M_script01_1_F002", "Ses01M_script01_1_M010"],
    }
    emos = {
        "Ses01F_impro01_F000": "neu",
        "Ses01F_impro01_M003": "exc",
        "Ses01M_script01_1_F002": "fru",
        "Ses01M_script01_1_M010": "ang",
    }
    for dialog, ids in utts.items():
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        for i, utt in enumerate(ids):
            _audio(wav / dialog / f"{utt}.wav")
            lines += [
                f"[{i}.5000 - {i + 1}.2500]\t{utt}\t{emos[utt]}\t[2.5000, 3.0000, 3.5000]",
                "C-E2:\tNeutral;\t()",
                "A-E3:\tval 3; act 2; dom  2;\t()",
                "",
            ]
        (evald / f"{dialog}.txt").write_text("\n".join(lines))
    (wav / "Ses01F_impro01" / "._Ses01F_impro01_F000.wav").write_bytes(b"mac fork")
    df = build_manifest("iemocap", tmp_path)
    assert _labels(df) == emos
    speakers = dict(zip(df["utt_id"], df["speaker"], strict=True))
    assert speakers["Ses01F_impro01_M003"] == "Ses01M"
    assert speakers["Ses01M_script01_1_F002"] == "Ses01F"
    assert set(df["split"]) == {"1"} and df["valence"].eq(2.5).all()
    assert dict(zip(df["dialog"], df["mode"], strict=False)) == {
        "Ses01F_impro01": "improvised",
        "Ses01M_script01_1": "scripted",
    }
    four = build_manifest("iemocap", tmp_path, four_class=True, mode="all")
    assert _labels(four) == {
        "Ses01F_impro01_F000": "neu",
        "Ses01F_impro01_M003": "hap",
        "Ses01M_script01_1_M010": "ang",
    }
    impro = build_manifest("iemocap", tmp_path, mode="improvised")
    assert set(impro["mode"]) == {"improvised"} and len(impro) == 2


def test_msp_improv_layout_with_and_without_evaluation(tmp_path):
    names = [
        "MSP-IMPROV-S01A-F01-S-FM01",
        "MSP-IMPROV-S01A-M01-R-MF01",
        "MSP-IMPROV-S02H-F01-P-FM01",
    ]
    for name in names:
        scen, cond = name.split("-")[2], name.split("-")[4]
        _audio(tmp_path / "Audio" / "session1" / scen / cond / f"{name}.wav")
    df = build_manifest("msp_improv", tmp_path)
    assert _labels(df) == dict(zip(names, ["ang", "ang", "hap"], strict=True))
    assert (df["label_source"] == "filename").all()
    assert df["speaker"].tolist() == ["F01", "M01", "F01"] and df["gender"].tolist() == list("FMF")
    assert df["condition"].tolist() == ["target", "read", "natural"]
    (tmp_path / "Evalution.txt").write_text(
        "UTD-IMPROV-S01A-F01-S-FM01.avi; N; A:2.4; V:3.0; D:2.6 ; N:3.2;\n"
        "Mf; Neutral; Neutral; A:2.0; V:3.0; D:3.0; N:3.0;\n\n"
        "UTD-IMPROV-S02H-F01-P-FM01.avi; O; A:3.0; V:3.5; D:3.0 ; N:4.0;\n"
    )
    df = build_manifest("msp_improv", tmp_path)
    assert _labels(df) == dict(zip(names, ["neu", "ang", "oth"], strict=True))
    assert df["arousal"].tolist()[0] == pytest.approx(2.4)
    four = build_manifest("msp_improv", tmp_path, four_class=True)
    assert four["utt_id"].tolist() == names[:2]


def test_crema_d_layout(tmp_path):
    for name in ("1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_DFA_SAD_LO"):
        _audio(tmp_path / "AudioWAV" / f"{name}.wav")
    df = build_manifest("crema_d", tmp_path)
    assert df["label"].tolist() == ["ang", "hap", "sad"] and df["gender"].isna().all()
    (tmp_path / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
        "1002,21,Female,Caucasian,Not Hispanic\n"
    )
    df = build_manifest("crema_d", tmp_path)
    assert df["gender"].tolist() == ["M", "M", "F"] and df["speaker"].tolist()[2] == "1002"
    assert df["intensity"].tolist() == ["XX", "HI", "LO"]


def test_ravdess_layout(tmp_path):
    for actor, name in [
        ("01", "03-01-05-01-02-01-01"),
        ("02", "03-01-03-02-01-02-02"),
        ("02", "03-02-04-01-01-01-02"),
    ]:
        _audio(tmp_path / f"Actor_{actor}" / f"{name}.wav")
    df = build_manifest("ravdess", tmp_path).set_index("utt_id")
    assert df.loc["03-01-05-01-02-01-01", ["label", "gender", "speaker"]].tolist() == [
        "ang",
        "M",
        "01",
    ]
    assert df.loc["03-01-03-02-01-02-02", ["label", "gender", "intensity"]].tolist() == [
        "hap",
        "F",
        "strong",
    ]
    assert df.loc["03-02-04-01-01-01-02", ["label", "vocal_channel"]].tolist() == ["sad", "song"]
    assert len(build_manifest("ravdess", tmp_path, channel="speech")) == 2
    _audio(tmp_path / "Actor_03" / "03-01-05-01-02-01-01.wav")
    with pytest.raises(CorpusLayoutError, match="Actor_03"):
        build_manifest("ravdess", tmp_path)


def test_emodb_layout(tmp_path):
    for name in ("03a01Fa", "08b02Wc", "16a05Nb"):
        _audio(tmp_path / "wav" / f"{name}.wav")
    df = build_manifest("emodb", tmp_path)
    assert df["label"].tolist() == ["hap", "ang", "neu"]
    assert df["gender"].tolist() == ["M", "F", "F"] and df["text"].tolist()[1] == "b02"


def test_urdu_layout_rejects_mismatched_folder(tmp_path):
    _audio(tmp_path / "Angry" / "SM1_F1_A01.wav")
    _audio(tmp_path / "Sad" / "SF2_F1_H01.wav")
    with pytest.raises(CorpusLayoutError, match="SF2_F1_H01.wav"):
        build_manifest("urdu", tmp_path)


# ---------------------------------------------------------------- shared builder behaviour


@pytest.mark.parametrize("corpus", sorted(BUILDERS))
def test_missing_layout_names_root_and_expectation(tmp_path, corpus):
    (tmp_path / "unrelated.txt").write_text("not a corpus")
    with pytest.raises(CorpusLayoutError, match=re.escape(str(tmp_path))) as err:
        build_manifest(corpus, tmp_path)
    assert "expected" in str(err.value) or "not found" in str(err.value)


def test_unknown_corpus_lists_known_names():
    with pytest.raises(KeyError, match="fsdd"):
        build_manifest("timit", "/nowhere")


def test_bad_file_name_is_named(tmp_path):
    _audio(tmp_path / "recordings" / "0_george_0.wav")
    _audio(tmp_path / "recordings" / "george-zero.wav")
    with pytest.raises(CorpusLayoutError, match="george-zero.wav"):
        build_manifest("fsdd", tmp_path)


def test_builder_skips_or_raises_on_corrupt_files(tmp_path):
    _audio(tmp_path / "recordings" / "1_theo_7.wav")
    (tmp_path / "recordings" / "2_theo_8.wav").write_bytes(b"not audio at all")
    with pytest.raises(ManifestError, match="2_theo_8.wav"):
        build_manifest("fsdd", tmp_path)
    with pytest.warns(SkippedFilesWarning, match="2_theo_8.wav"):
        df = build_manifest("fsdd", tmp_path, on_error="skip")
    assert df["utt_id"].tolist() == ["1_theo_7"]
    unprobed = build_manifest("fsdd", tmp_path, probe=False)
    assert len(unprobed) == 2 and unprobed["duration"].isna().all()
