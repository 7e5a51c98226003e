"""Feature extraction on Ray into the Parquet feature store, on URDU-layout audio."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from raysim.audio.io import load_audio
from raysim.features import (
    FeatureExtractionError,
    FeatureStore,
    FeatureStoreError,
    build_extractor,
    extract_features,
    read_client,
    resolve_config,
)
from raysim.features.layout import METADATA_KEY

REPO = Path(__file__).resolve().parents[1]
URDU_NAME = re.compile(r"^S([MF])(\d+)_F\d+_([AHNS])\d+$")


def urdu_manifest(root: Path, per_emotion: int) -> pd.DataFrame:
    """First `per_emotion` files of each emotion folder, with speaker/gender/label columns."""
    rows = []
    for folder in ("Angry", "Happy", "Neutral", "Sad"):
        for path in sorted((root / "urdu" / folder).glob("*.wav"))[:per_emotion]:
            gender, speaker, label = URDU_NAME.match(path.stem).groups()
            rows.append(
                {
                    "utt_id": path.stem,
                    "path": str(path),
                    "speaker": f"S{gender}{speaker}",
                    "gender": gender,
                    "label": label,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def manifest(corpus_root) -> pd.DataFrame:
    return urdu_manifest(corpus_root, per_emotion=6)


@pytest.fixture(scope="module")
def egemaps(ray_session, manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("egemaps")
    summary = extract_features(manifest, out, "egemaps", shard_size=8, progress=False)
    return summary, out


def test_egemaps_vectors_and_metadata(egemaps, manifest):
    summary, out = egemaps
    assert (summary.n_ok, summary.n_failed, summary.dim) == (24, 0, 88)
    assert (summary.n_shards, summary.n_shards_skipped) == (3, 0)
    shards = sorted(out.glob("shard-*.parquet"))
    assert [p.name for p in shards] == [f"shard-0000{i}.parquet" for i in range(3)]
    schema = pq.read_schema(shards[0])
    assert schema.field("features").type == pa.list_(pa.float32(), 88)
    meta = json.loads(schema.metadata[METADATA_KEY])
    assert meta["feature_set"] == "egemaps" and meta["dim"] == 88 and meta["complete"]
    assert meta["params"] == {
        "opensmile_set": "eGeMAPSv02",
        "level": "functionals",
        "sample_rate": 16000,
    }

    store = FeatureStore(out)
    assert (store.feature_set, store.dim, len(store.feature_names)) == ("egemaps", 88, 88)
    X, rows = store.to_numpy()
    assert X.shape == (24, 88) and X.dtype == np.float32 and np.isfinite(X).all()
    by_id = manifest.set_index("utt_id")
    assert sorted(rows["utt_id"]) == sorted(manifest["utt_id"])
    assert (rows["speaker"].to_numpy() == by_id.loc[rows["utt_id"], "speaker"].to_numpy()).all()
    assert store.failures().empty

    # same numbers as a plain single-process OpenSMILE run on that file
    extractor = build_extractor(resolve_config("egemaps"))
    wave, sr = load_audio(rows["path"].iat[5], 16000)
    np.testing.assert_allclose(X[5], extractor.process(wave, sr), rtol=1e-5)


def test_rerun_skips_complete_shards(egemaps, manifest, tmp_path):
    _, src = egemaps
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.parquet")}
    again = extract_features(manifest, out, "egemaps", shard_size=8, progress=False)
    assert (again.n_shards_skipped, again.n_ok) == (3, 24)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.parquet")} == mtimes

    # changed shards (a label fixed in the first, an utterance dropped from the last) are
    # recomputed, the unchanged middle one is kept
    changed = manifest.iloc[:-1].copy()
    changed.loc[0, "label"] = "fixed"
    again = extract_features(changed, out, "egemaps", shard_size=8, progress=False)
    assert (again.n_shards_skipped, again.n_ok) == (1, 23)
    new = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.parquet")}
    assert [n for n in sorted(mtimes) if new[n] == mtimes[n]] == ["shard-00001.parquet"]
    labels = FeatureStore(out).table(["utt_id", "label"]).to_pandas().set_index("utt_id")
    assert labels.loc[changed.loc[0, "utt_id"], "label"] == "fixed"

    with pytest.raises(FeatureExtractionError, match="already holds 'egemaps'"):
        extract_features(manifest, out, "egemaps", {"level": "lld"}, progress=False)


def test_corrupt_and_empty_files_are_recorded(ray_session, manifest, tmp_path):
    corrupt, empty = tmp_path / "corrupt.wav", tmp_path / "empty.wav"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    sf.write(empty, np.zeros(0, dtype=np.float32), 16000)
    bad = pd.DataFrame(
        [
            {
                "utt_id": "bad_corrupt",
                "path": str(corrupt),
                "speaker": "X",
                "gender": "M",
                "label": "A",
            },
            {
                "utt_id": "bad_empty",
                "path": str(empty),
                "speaker": "X",
                "gender": "F",
                "label": "S",
            },
        ]
    )
    mixed = pd.concat([manifest.iloc[:2], bad, manifest.iloc[2:4]], ignore_index=True)
    out = tmp_path / "store"
    summary = extract_features(mixed, out, "egemaps", shard_size=3, progress=False)
    assert (summary.n_ok, summary.n_failed) == (4, 2)
    store = FeatureStore(out)
    failures = store.failures().set_index("utt_id")
    assert sorted(failures.index) == ["bad_corrupt", "bad_empty"]
    assert "cannot decode" in failures.loc["bad_corrupt", "reason"]
    assert "zero length" in failures.loc["bad_empty", "reason"]
    assert failures.loc["bad_empty", "path"] == str(empty)
    assert sorted(store.table(columns=["utt_id"]).column("utt_id").to_pylist()) == sorted(
        manifest["utt_id"].iloc[:4]
    )

    with pytest.raises(FeatureExtractionError, match="corrupt.wav"):
        extract_features(mixed, tmp_path / "strict", "egemaps", on_error="raise", progress=False)


def test_logmel_shape_and_inf_features_fail(ray_session, manifest, tmp_path):
    loud = tmp_path / "loud.wav"  # finite samples whose mel power overflows float32 to inf
    sf.write(loud, np.full(16000, 1e30, dtype=np.float32), 16000, subtype="FLOAT")
    rows = pd.concat(
        [manifest.iloc[:3], pd.DataFrame([{"utt_id": "loud", "path": str(loud)}])],
        ignore_index=True,
    )
    params = {"n_mels": 40, "n_fft": 400, "hop_length": 160}
    summary = extract_features(rows, tmp_path / "logmel", "logmel", params, progress=False)
    assert (summary.dim, summary.n_ok, summary.n_failed) == (80, 3, 1)
    X, meta = FeatureStore(tmp_path / "logmel").to_numpy()
    assert X.shape == (3, 80)
    failure = FeatureStore(tmp_path / "logmel").failures().iloc[0]
    assert failure["utt_id"] == "loud" and "NaN or inf" in failure["reason"]

    extractor = build_extractor(resolve_config("logmel", params))
    wave, sr = load_audio(meta["path"].iat[0], 16000)
    assert extractor.frames(wave, sr).shape == (40, 1 + wave.size // 160)
    np.testing.assert_allclose(X[0], extractor.process(wave, sr), rtol=1e-4, atol=1e-5)


TINY_WAV2VEC2 = {
    "extractor_mode": "group_norm",
    "extractor_conv_layer_config": [(32, 10, 5), (32, 3, 2)],
    "extractor_conv_bias": False,
    "encoder_embed_dim": 32,
    "encoder_projection_dropout": 0.0,
    "encoder_pos_conv_kernel": 16,
    "encoder_pos_conv_groups": 4,
    "encoder_num_layers": 2,
    "encoder_num_heads": 2,
    "encoder_attention_dropout": 0.0,
    "encoder_ff_interm_features": 64,
    "encoder_ff_interm_dropout": 0.0,
    "encoder_dropout": 0.0,
    "encoder_layer_norm_first": False,
    "encoder_layer_drop": 0.0,
    "aux_num_out": None,
}


def test_ssl_tiny_wav2vec2_from_local_checkpoint(ray_session, manifest, tmp_path):
    import torch
    import torchaudio

    from raysim.features.ssl import load_ssl_checkpoint, save_ssl_checkpoint

    torch.manual_seed(0)
    model = torchaudio.models.wav2vec2_model(**TINY_WAV2VEC2).eval()
    ckpt = save_ssl_checkpoint(
        model, {"builder": "wav2vec2_model", "kwargs": TINY_WAV2VEC2}, tmp_path / "tiny.pt"
    )
    rows = manifest.iloc[:4]
    params = {"checkpoint": str(ckpt), "layer": 0}
    summary = extract_features(rows, tmp_path / "ssl", "ssl", params, progress=False)
    assert (summary.dim, summary.n_ok, summary.n_failed) == (32, 4, 0)
    X, meta = FeatureStore(tmp_path / "ssl").to_numpy()

    wave, _ = load_audio(meta["path"].iat[1], 16000)
    with torch.inference_mode():
        layers, _ = load_ssl_checkpoint(ckpt).extract_features(torch.from_numpy(wave)[None])
    np.testing.assert_allclose(X[1], layers[0][0].mean(0).numpy(), rtol=1e-4, atol=1e-5)
    assert not np.allclose(X[1], layers[1][0].mean(0).numpy())

    with pytest.raises(FeatureExtractionError, match="layer 5 out of range"):
        extract_features(rows, tmp_path / "bad", "ssl", {**params, "layer": 5}, progress=False)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        extract_features(
            rows, tmp_path / "bad", "ssl", {"checkpoint": str(tmp_path / "missing.pt")}
        )


def test_store_predicate_reads_one_speaker(egemaps, manifest):
    _, out = egemaps
    speaker = manifest["speaker"].value_counts().index[0]
    expected = sorted(manifest.loc[manifest["speaker"] == speaker, "utt_id"])
    assert len(expected) < len(manifest)

    X, meta = read_client(out, speaker, column="speaker")
    assert sorted(meta["utt_id"]) == expected and X.shape == (len(expected), 88)
    table = FeatureStore(out).table(["utt_id", "speaker"], filter=pc.field("speaker") == speaker)
    assert set(table.column("speaker").to_pylist()) == {speaker}

    with pytest.raises(FeatureStoreError, match="no column"):
        read_client(out, speaker, column="client")
    with pytest.raises(FeatureStoreError, match="no rows with speaker == 'nobody'"):
        read_client(out, "nobody", column="speaker")
    with pytest.raises(FeatureStoreError, match="not a feature store"):
        FeatureStore(out.parent / "nowhere")


def test_store_rejects_nan_features(egemaps, tmp_path):
    _, out = egemaps
    shard = pq.read_table(out / "shard-00000.parquet")
    flat = shard.column("features").combine_chunks().values.to_numpy().copy()
    flat[3] = np.nan
    column = pa.FixedSizeListArray.from_arrays(pa.array(flat), 88)
    broken = shard.set_column(shard.schema.get_field_index("features"), "features", column)
    (tmp_path / "nan").mkdir()
    pq.write_table(
        broken.replace_schema_metadata(shard.schema.metadata),
        tmp_path / "nan" / "shard-00000.parquet",
    )
    with pytest.raises(FeatureStoreError, match="NaN/inf features in 1 rows"):
        FeatureStore(tmp_path / "nan").to_numpy()


def test_bad_inputs_have_clear_errors(manifest, tmp_path):
    first = re.escape(manifest["utt_id"].iat[0])
    with pytest.raises(ValueError, match=rf"duplicate utt_id values \['{first}'"):
        extract_features(pd.concat([manifest, manifest.iloc[:1]]), tmp_path, "egemaps")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['path'\]"):
        extract_features(manifest.drop(columns="path"), tmp_path, "egemaps")
    with pytest.raises(ValueError, match="levle: unknown key; did you mean 'level'"):
        extract_features(manifest, tmp_path, "egemaps", {"levle": "lld"})
    with pytest.raises(ValueError, match="unknown feature set 'mfcc'"):
        extract_features(manifest, tmp_path, "mfcc")
    with pytest.raises(FileNotFoundError, match="nothere.parquet"):
        extract_features(tmp_path / "nothere.parquet", tmp_path, "egemaps")


@pytest.mark.skipif(find_spec("openl3") is not None, reason="openl3 is installed")
def test_openl3_missing_names_the_extra(manifest, tmp_path):
    with pytest.raises(ImportError, match=r"pip install raysim\[openl3\]"):
        extract_features(manifest, tmp_path, "openl3")


def test_cli_writes_store_from_parquet_manifest(ray_session, manifest, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("extract_cli", REPO / "features" / "extract.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    manifest.iloc[:4].to_parquet(tmp_path / "manifest.parquet")
    argv = [
        "--manifest",
        str(tmp_path / "manifest.parquet"),
        "--out",
        str(tmp_path / "out"),
        "--feature-set",
        "emobase",
        "--param",
        "level=lld",
        "--workers",
        "2",
    ]
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["feature_set"], summary["n_ok"], summary["dim"]) == ("emobase", 4, 52)
    assert FeatureStore(tmp_path / "out").params["level"] == "lld"
