"""Bring your own corpus: the folder-pattern and CSV manifest builders, --where filters,
the CSV-given-as-Parquet error, and data.classes selecting a subset of a store's labels."""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import soundfile as sf

from raysim.config import ConfigError, load_config, parse_config
from raysim.data.corpora import CorpusLayoutError, SkippedFilesWarning
from raysim.data.corpora.csv_table import build_csv_manifest, parse_column_map
from raysim.data.corpora.folder import (
    PathPattern,
    PatternError,
    build_folder_manifest,
    scan_folder,
)
from raysim.data.feature_sources import FeatureStoreParams, feature_store, source_from_features
from raysim.data.manifest import ManifestError, read_manifest
from raysim.data.where import WhereError, apply_where, parse_where
from raysim.features.extract import load_manifest
from raysim.features.layout import shard_path, with_metadata, write_atomic
from raysim.federation import federation_of
from raysim.input_checks import check_inputs

REPO = Path(__file__).resolve().parents[1]
SR = 8000


def _manifest_cli():
    """features/manifest.py, the CLI, as a module."""
    spec = importlib.util.spec_from_file_location("manifest_cli", REPO / "features/manifest.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


def _wav(path: Path, seconds: float = 0.05) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.full(int(seconds * SR), 0.01, dtype=np.float32), SR)
    return path


def _tree(root: Path, names: list[str]) -> Path:
    for name in names:
        _wav(root / name)
    return root


# ---------------------------------------------------------------- folder patterns

FOLDER_CASES = {
    "label from the sub-folder": (
        "{label}/{speaker}_{utt}.wav",
        ["Angry/SM1_001.wav", "Neutral/SF2_002.wav"],
        {
            "Angry/SM1_001": {"label": "Angry", "speaker": "SM1", "utt": "001"},
            "Neutral/SF2_002": {"label": "Neutral", "speaker": "SF2", "utt": "002"},
        },
    ),
    "fields in the file name, one twice": (
        "{word}/{speaker}-{gender}-{age}-{word}-{label}-{take}.wav",
        ["yes/s1-m-30-yes-W-1.wav", "no/s2-Female-41-no-N-2.wav"],
        {
            "yes/s1-m-30-yes-W-1": {"speaker": "s1", "gender": "M", "age": "30", "label": "W"},
            "no/s2-Female-41-no-N-2": {"speaker": "s2", "gender": "F", "word": "no", "take": "2"},
        },
    ),
    "noise classes, rest of the name not kept": (
        "{noise_class}/{_}.wav",
        ["rain/a-1.wav", "dog/b.wav"],
        {
            "rain/a-1": {"noise_class": "rain", "label": "rain", "speaker": None},
            "dog/b": {"noise_class": "dog", "label": "dog"},
        },
    ),
    "explicit utt_id and split": (
        "{split}/{utt_id}.wav",
        ["train/u1.wav", "test/u2.wav"],
        {"u1": {"split": "train"}, "u2": {"split": "test"}},
    ),
}


@pytest.mark.parametrize("case", sorted(FOLDER_CASES))
def test_folder_pattern_fills_columns(tmp_path, case):
    pattern, files, expected = FOLDER_CASES[case]
    df = build_folder_manifest(_tree(tmp_path, files), pattern).set_index("utt_id")
    assert set(df.index) == set(expected)
    for utt, columns in expected.items():
        for column, value in columns.items():
            assert df.at[utt, column] == value, (utt, column)
    assert (df["sample_rate"] == SR).all() and df["path"].map(lambda p: Path(p).is_file()).all()


def test_folder_extra_fields_are_string_columns_after_the_required_ones(tmp_path):
    pattern, files, _ = FOLDER_CASES["fields in the file name, one twice"]
    df = build_folder_manifest(_tree(tmp_path, files), pattern, probe=False)
    assert list(df.columns[-3:]) == ["word", "age", "take"]
    assert df["age"].tolist() == ["41", "30"] and df["duration"].isna().all()


def test_non_matching_path_raises_or_is_counted(tmp_path):
    pattern = "{label}/{speaker}_{utt}.wav"
    _tree(tmp_path, ["Angry/SM1_001.wav", "Angry/stray.wav", "notes/deep/x_1.wav"])
    (tmp_path / "README.txt").write_text("not audio: not looked at")
    with pytest.raises(CorpusLayoutError, match=re.escape(f"'{pattern}'")) as err:
        build_folder_manifest(tmp_path, pattern)
    assert "Angry/stray.wav" in str(err.value)
    manifest, skipped = scan_folder(tmp_path, pattern, on_error="skip")
    assert manifest["utt_id"].tolist() == ["Angry/SM1_001"]
    assert sorted(Path(p).name for p in skipped["path"]) == ["stray.wav", "x_1.wav"]
    assert skipped["reason"].str.contains(re.escape(pattern)).all()
    with pytest.warns(SkippedFilesWarning, match=r"skipped 2 file.*do not match"):
        assert len(build_folder_manifest(tmp_path, pattern, on_error="skip")) == 1


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a.wav", "no {field}"),
        ("{1st}/a.wav", "bad field name"),
        ("{path}.wav", "filled by the builder"),
        ("{label}}.wav", "unbalanced"),
    ],
)
def test_bad_patterns_are_named(pattern, message):
    with pytest.raises(PatternError, match=re.escape(message)):
        PathPattern.compile(pattern)


def test_unknown_gender_spelling_names_the_file(tmp_path):
    _tree(tmp_path, ["x/s1-q-1.wav"])
    with pytest.raises(CorpusLayoutError, match=r"s1-q-1\.wav.*'q'"):
        build_folder_manifest(tmp_path, "{label}/{speaker}-{gender}-{take}.wav")


# ---------------------------------------------------------------- CSV tables


def test_csv_with_column_mapping_resolves_relative_paths(tmp_path):
    corpus = _tree(tmp_path / "corpus", ["wav/a.wav", "wav/b.wav"])
    table = corpus / "meta.csv"
    table.write_text(
        "file,emotion,spk,sex,session\n"
        f"wav/a.wav,W,s1,male,1\n{corpus / 'wav' / 'b.wav'},N,s2,F,2\n"
    )
    columns = parse_column_map("path=file, label=emotion,speaker=spk,gender=sex")
    df = build_csv_manifest(table, columns=columns).set_index("utt_id")
    assert df.loc["wav/a", ["label", "speaker", "gender"]].tolist() == ["W", "s1", "M"]
    assert df.loc["wav/b", "path"] == str(corpus / "wav" / "b.wav")
    assert df["session"].tolist() == ["1", "2"] and (df["sample_rate"] == SR).all()
    # against --root instead of the table's folder
    (tmp_path / "tables").mkdir()
    moved = tmp_path / "tables" / "meta.csv"
    moved.write_text("path,label\nwav/a.wav,W\n")
    df = build_csv_manifest(moved, root=corpus)
    assert df["path"].tolist() == [str(corpus / "wav" / "a.wav")]


@pytest.mark.parametrize(
    ("header", "columns", "message"),
    [
        ("file,emotion", {"path": "file", "label": "emo"}, "no column 'emo' (mapped to label)"),
        ("file,emotion", {}, "no 'path' column"),
        ("path,label,emotion", {"label": "emotion"}, "has a 'label' column too"),
    ],
)
def test_csv_missing_columns_name_the_column_and_file(tmp_path, header, columns, message):
    table = tmp_path / "meta.csv"
    table.write_text(f"{header}\n" + ",".join(["a.wav"] + ["x"] * header.count(",")) + "\n")
    with pytest.raises(ManifestError, match=re.escape(message)) as err:
        build_csv_manifest(table, columns=columns, probe=False)
    assert "meta.csv" in str(err.value)


def test_bad_column_map_is_named():
    with pytest.raises(ManifestError, match="'label'"):
        parse_column_map("label")


# ---------------------------------------------------------------- --where


WHERE_ROWS = pd.DataFrame(
    {"label": ["W", "F", "N", "T", "A", None], "split": ["1", "1", "2", "2", "3", "3"]}
)


@pytest.mark.parametrize(
    ("filters", "labels"),
    [
        (["label in [W,F,N,T]"], ["W", "F", "N", "T"]),
        (["label in ['W', \"F\"]"], ["W", "F"]),
        (["label=N"], ["N"]),
        (["label == N"], ["N"]),
        (["label!=N"], ["W", "F", "T", "A", None]),
        (["label not in [W,F]"], ["N", "T", "A", None]),
        (["label in [W,F,N,T]", "split=2"], ["N", "T"]),
        (["split=1"], ["W", "F"]),
    ],
)
def test_where_keeps_rows_and_counts_the_dropped(filters, labels):
    kept, dropped = apply_where(WHERE_ROWS, filters)
    assert kept["label"].tolist() == labels
    assert dropped == len(WHERE_ROWS) - len(labels)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("label ~ N", "expected COLUMN=VALUE"),
        ("label in [W,F", "unbalanced"),
        ("label=", "no value"),
    ],
)
def test_bad_where_is_named(text, message):
    with pytest.raises(WhereError, match=re.escape(message)):
        parse_where(text)


def test_where_on_an_unknown_column_lists_the_columns():
    with pytest.raises(WhereError, match=r"no column 'lable'; columns: label, split"):
        apply_where(WHERE_ROWS, ["lable=N"])


# ---------------------------------------------------------------- the CLI


def test_cli_folder_with_where_and_skip(tmp_path, capsys):
    root = _tree(tmp_path / "c", ["W/s1_1.wav", "N/s1_2.wav", "T/s2_3.wav", "T/stray.wav"])
    out = tmp_path / "m.parquet"
    argv = ["--corpus", "folder", "--root", str(root), "--pattern", "{label}/{speaker}_{utt}.wav"]
    argv += ["--where", "label in [W,N]", "--on-error", "skip", "--out", str(out)]
    assert _manifest_cli().main(argv) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["rows"] == 2 and summary["dropped"] == 1 and summary["skipped"] == 1
    assert "dropped 1 of 3 rows" in captured.err
    assert read_manifest(out)["label"].tolist() == ["N", "W"]
    assert "stray.wav" in Path(summary["skipped_table"]).read_text()


def test_cli_from_csv_and_its_errors(tmp_path, capsys):
    _tree(tmp_path, ["a.wav", "b.wav"])
    (tmp_path / "t.csv").write_text("file,emotion\na.wav,W\nb.wav,N\n")
    out = tmp_path / "m.parquet"
    argv = ["--from-csv", str(tmp_path / "t.csv"), "--out", str(out)]
    assert _manifest_cli().main([*argv, "--columns", "path=file,label=emotion"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 2
    with pytest.raises(SystemExit) as exit_:
        _manifest_cli().main([*argv, "--columns", "path=file", "--where", "emotion=X"])
    assert exit_.value.code == 2 and "leaves no row" in capsys.readouterr().err


# ---------------------------------------------------------------- CSV given as Parquet


def test_csv_given_as_parquet_manifest_is_one_clear_line(tmp_path):
    table = tmp_path / "speech.csv"
    table.write_text("path,label\n/x/a.wav,W\n")
    disguised = tmp_path / "speech.parquet"
    disguised.write_text(table.read_text())
    for path in (table, disguised):
        with pytest.raises(ManifestError) as err:
            read_manifest(path)
        message = str(err.value)
        assert "\n" not in message and str(path) in message
        assert f"--from-csv {path}" in message and "Parquet magic" not in message
    with pytest.raises(ValueError, match=re.escape(f"--from-csv {table}")):
        load_manifest(table)  # feature extraction's input


# ---------------------------------------------------------------- data.classes


def _write_store(path: Path, labels: list[str]) -> Path:
    """A one-shard feature store (dim 3) with one row per label, speakers s0, s1, s2."""
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "utt_id": [f"u{i}" for i in range(len(labels))],
            "speaker": [f"s{i % 3}" for i in range(len(labels))],
            "label": labels,
            "features": [rng.normal(size=3).astype(np.float32).tolist() for _ in labels],
        }
    )
    meta = {"feature_set": "test", "params": {}, "dim": 3}
    path.mkdir(parents=True)
    write_atomic(with_metadata(table, meta), shard_path(path, 0))
    return path


def test_classes_subset_drops_and_counts_other_rows(tmp_path, caplog):
    store = _write_store(tmp_path / "store", ["0", "1", "2", "1"] * 6)
    config = load_config(
        None,
        ["data.source=feature_store", f"data.path={store}", "data.classes=[2,0]"],
    )
    assert config.data.classes == ["2", "0"]  # YAML's numbers taken as label strings
    check_inputs(config)  # every class is in the store
    with caplog.at_level(logging.WARNING, logger="raysim.data.feature_sources"):
        data = feature_store(config.data, seed=0)
    assert data.info["classes"] == ["2", "0"] and data.info["num_classes"] == 2
    assert data.info["dropped_rows"] == {"1": 12}
    clients = range(len(data.clients))
    kept = len(data.eval_data["y"]) + sum(data.clients.num_samples(c) for c in clients)
    assert kept == 12 and set(data.eval_data["y"]) <= {0, 1}
    assert [r.getMessage() for r in caplog.records] == [
        f"data.classes ['2', '0']: dropped 12 of 24 rows of {store} (1: 12)"
    ]
    # the federation summary (describe, federation.json) says so too
    notes = federation_of(config, data).notes
    assert notes[-1] == "data.classes: dropped 12 rows of other labels (1: 12)"


def test_unknown_class_is_a_config_error_before_the_run(tmp_path):
    store = _write_store(tmp_path / "store", ["0", "1", "2"] * 4)
    config = parse_config({"data": {"source": "feature_store", "path": str(store)}})
    config = parse_config(
        {"data": {**config.data.model_dump(), "classes": ["0", "9"]}, "rounds": 1}
    )
    with pytest.raises(ConfigError, match=r"data\.classes: '9' is not a label of .*0, 1, 2"):
        check_inputs(config)
    x = np.zeros((3, 2), np.float32)
    meta = pd.DataFrame({"label": ["0", "1", "2"], "speaker": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"data\.classes: '9' is not a label of mem"):
        source_from_features(x, meta, config.data, 0, "mem")


@pytest.mark.parametrize(
    ("classes", "message"),
    [(["0"], "at least 2"), (["0", "1", "0"], "listed twice: 0")],
)
def test_classes_need_two_distinct_names(classes, message):
    with pytest.raises(ConfigError, match=rf"data\.classes: .*{message}"):
        parse_config({"data": {"source": "feature_store", "path": "x", "classes": classes}})
    with pytest.raises(ValueError):
        FeatureStoreParams(source="feature_store", path="x", classes=classes)


def test_contents_summary_counts_labels_and_flags_a_pattern_that_took_the_wrong_part():
    from raysim.data.manifest import contents_summary

    good = pd.DataFrame({"label": ["ang", "neu"] * 10, "speaker": [f"s{i % 5}" for i in range(20)]})
    assert contents_summary(good) == "2 labels (ang 10, neu 10); 5 speakers"
    assert "check the pattern" not in contents_summary(good)
    too_many = good.assign(label=[f"x{i}-ang" for i in range(20)])
    assert "20 labels" in contents_summary(too_many)
    assert "check the pattern's {label} field" in contents_summary(too_many)
    with_speaker = good.assign(label=good.speaker + "-" + good.label)
    assert "check the pattern's {label} field" in contents_summary(with_speaker)
