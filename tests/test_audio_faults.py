"""Audio faults are recorded, not hidden: one table of faulty files, each through the
header probe (manifest building), the loader (feature extraction and SE loading) and a
feature shard; then the manifest CLI's two modes and the extraction report. No Ray."""

from __future__ import annotations

import importlib.util
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import soundfile as sf

from raysim.audio.conversion import FormatCounts, conversion_summary
from raysim.audio.io import AudioError, read_audio
from raysim.data.manifest import AudioFileError, make_manifest, validate_manifest
from raysim.data.se_sources import audio_conversion
from raysim.features.base import resolve_config
from raysim.features.extract import _finish, _Shard
from raysim.features.layout import read_metadata, shard_path
from raysim.features.shard import extract_shard

REPO = Path(__file__).resolve().parents[1]
SR = 16000
LOGMEL = {"n_mels": 8, "n_fft": 256, "hop_length": 128}  # small and fast


def _tone(n: int, sr: int = SR) -> np.ndarray:
    return (0.1 * np.sin(2 * np.pi * 440 * np.arange(n) / sr)).astype(np.float32)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _corrupt(path: Path) -> None:
    path.write_bytes(b"this is not audio " * 16)


def _truncated(path: Path) -> None:
    """16000 frames of 16-bit PCM, then half the file's bytes cut off (the header stays)."""
    sf.write(path, _tone(SR), SR, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _rate_8k(path: Path) -> None:
    sf.write(path, _tone(8000, 8000), 8000)


def _stereo(path: Path) -> None:
    sf.write(path, np.stack([_tone(SR), _tone(SR)], axis=1), SR)


def _nan_samples(path: Path) -> None:
    wave = _tone(SR)
    wave[100:110] = np.nan
    sf.write(path, wave, SR, subtype="FLOAT")


def _inf_features(path: Path) -> None:
    """Finite samples whose mel power overflows float32: the features are inf."""
    sf.write(path, np.full(SR, 1e30, dtype=np.float32), SR, subtype="FLOAT")


@dataclass(frozen=True)
class Fault:
    name: str
    write: Callable[[Path], None]
    probe: str | None  # error of the header probe (manifest building); None: passes
    load: str | None  # error of the loader; None: loads
    extract: str | None  # reason recorded by feature extraction; None: extracted
    formats: tuple[int, int] | None = None  # (rate, channels) recorded when it loads
    conversion: str | None = None  # the summary line, read at 16 kHz


TRUNCATED = "truncated: header says 16000 frames, file holds 7989"
FAULTS = [
    Fault("empty", _empty, *["file is empty (0 bytes)"] * 3),
    Fault("corrupt", _corrupt, "unreadable audio header", *["cannot decode audio"] * 2),
    Fault("truncated", _truncated, *[TRUNCATED] * 3),
    Fault(
        "8k",
        _rate_8k,
        None,
        None,
        None,
        (8000, 1),
        "1 of 1 file will be resampled from 8000 Hz to 16000 Hz, 0 down-mixed from stereo",
    ),
    Fault(
        "stereo",
        _stereo,
        None,
        None,
        None,
        (SR, 2),
        "0 of 1 file will be resampled to 16000 Hz, 1 down-mixed from stereo",
    ),
    Fault("nan_samples", _nan_samples, None, *["audio contains NaN or inf samples"] * 2),
    Fault("inf_features", _inf_features, None, None, "feature values are NaN or inf", (SR, 1)),
]
IDS = [f.name for f in FAULTS]


@pytest.fixture(params=FAULTS, ids=IDS)
def fault(request, tmp_path) -> tuple[Fault, Path]:
    case = request.param
    path = tmp_path / f"{case.name}.wav"
    case.write(path)
    return case, path


def test_header_probe(fault):
    case, path = fault
    df = make_manifest([{"utt_id": case.name, "path": str(path)}])
    if case.probe is not None:
        with pytest.raises(AudioFileError, match=re.escape(f"{path.name}: {case.probe}")) as err:
            validate_manifest(df, check_audio=True)
        assert (err.value.path, err.value.utt_id) == (str(path), case.name)
        manifest, skipped = validate_manifest(df, check_audio=True, on_error="skip")
        assert manifest.empty and skipped.loc[0, "reason"].startswith(case.probe)
        return
    row = validate_manifest(df, check_audio=True).manifest.iloc[0]
    sf_info = sf.info(path)
    assert (row["sample_rate"], row["channels"]) == (sf_info.samplerate, sf_info.channels)


def test_loader(fault):
    case, path = fault
    if case.load is not None:
        with pytest.raises(AudioError, match=re.escape(f"{path.name}: {case.load}")):
            read_audio(path, SR)
        return
    audio = read_audio(path, SR)
    assert audio.sample_rate == SR and audio.wave.ndim == 1
    assert (audio.orig_sample_rate, audio.orig_channels) == case.formats
    if case.conversion:
        counts = FormatCounts.of([case.formats])
        assert conversion_summary(counts, SR) == case.conversion


def _shard(tmp_path: Path, paths: list[Path]) -> tuple[pd.DataFrame, dict]:
    """Extract log-mel features of `paths` as shard 0 in tmp_path/store, in-process."""
    rows = pd.DataFrame({"utt_id": [p.stem for p in paths], "path": [str(p) for p in paths]})
    out = tmp_path / "store"
    out.mkdir(exist_ok=True)
    config = resolve_config("logmel", LOGMEL)
    schema = pa.Schema.from_pandas(rows, preserve_index=False)
    meta = {"shard": 0, "feature_set": "logmel", "params": config.to_params()}
    str_paths = [str(p) for p in paths]
    extract_shard(config, rows, str_paths, schema, str(shard_path(out, 0)), meta, "record")
    return rows, read_metadata(shard_path(out, 0))


def test_feature_shard_records_the_fault(fault, tmp_path):
    case, path = fault
    good = tmp_path / "good.wav"
    sf.write(good, _tone(SR), SR)
    _, meta = _shard(tmp_path, [good, path])
    reasons = {f["utt_id"]: f["reason"] for f in meta["failures"]}
    if case.extract is None:
        assert reasons == {} and meta["n_rows"] == 2
        expected = FormatCounts.of([(SR, 1), case.formats])
    else:
        assert list(reasons) == [case.name] and case.extract in reasons[case.name]
        expected = FormatCounts.of([(SR, 1)] + ([case.formats] if case.formats else []))
    assert FormatCounts.from_json(meta["audio_formats"]) == expected
    assert meta["load_rate"] == SR


def test_extraction_report_names_failures_file_and_rows(tmp_path):
    paths = [tmp_path / f"{name}.wav" for name in ("a_8k", "b_stereo", "c_empty", "d_trunc")]
    for path, write in zip(paths, (_rate_8k, _stereo, _empty, _truncated), strict=True):
        write(path)
    rows, _ = _shard(tmp_path, paths)
    out = tmp_path / "store"
    summary = _finish(out, [_Shard(0, rows, [], "")], "logmel", 0, time.perf_counter())
    assert (summary.n_ok, summary.n_failed) == (2, 2)
    assert summary.failures_file == out / "failures.parquet"
    assert summary.to_dict()["failures_file"] == str(out / "failures.parquet")
    assert summary.report_lines() == [
        "audio: 1 of 2 files were resampled from 8000 Hz to 16000 Hz, 1 down-mixed from stereo",
        f"failures: 2 files failed, listed in {out / 'failures.parquet'}:",
        f"  {paths[2]}: file is empty (0 bytes)",
        f"  {paths[3]}: {TRUNCATED}",
    ]
    assert summary.report_lines(limit=1)[-1] == "  ... and 1 more"


def test_se_conversion_counts_every_file_the_mixtures_use(tmp_path):
    speech, noise = tmp_path / "s.wav", tmp_path / "n.wav"
    _rate_8k(speech)
    _stereo(noise)
    spec = pd.DataFrame(
        {
            "speech_path": [str(speech), str(speech)],
            "noise_path": [str(noise), str(noise)],
            "noise2_path": [None, None],
            "sample_rate": [SR, SR],
        }
    )
    assert audio_conversion(spec) == (
        "1 of 2 files will be resampled from 8000 Hz to 16000 Hz, 1 down-mixed from stereo"
    )


# ---------------------------------------------------------------- the manifest CLI


def _manifest_cli():
    spec = importlib.util.spec_from_file_location("manifest_cli", REPO / "features/manifest.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


@pytest.fixture
def fsdd_with_faults(tmp_path) -> Path:
    """An FSDD layout: two usable files (8 kHz, stereo) and three faulty ones."""
    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    for name, write in {
        "0_theo_0": _rate_8k,
        "0_theo_1": _stereo,
        "1_theo_0": _empty,
        "1_theo_1": _corrupt,
        "1_theo_2": _truncated,
    }.items():
        write(rec / f"{name}.wav")
    return tmp_path / "fsdd"


def test_manifest_cli_skip_writes_the_skipped_table(fsdd_with_faults, tmp_path, capsys):
    out = tmp_path / "m.parquet"
    argv = ["--corpus", "fsdd", "--root", str(fsdd_with_faults), "--out", str(out)]
    assert _manifest_cli().main([*argv, "--on-error", "skip"]) == 0
    captured = capsys.readouterr()
    table = tmp_path / "m.skipped.csv"
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary == {
        "corpus": "fsdd",
        "rows": 2,
        "out": str(out),
        "skipped": 3,
        "skipped_table": str(table),
    }
    assert f"skipped 3 of 5 files, listed with reasons in {table}" in captured.err
    assert "audio: 2 files: 8000 Hz (1), 16000 Hz (1); 1 stereo" in captured.err
    skipped = pd.read_csv(table)
    assert list(skipped.columns) == ["utt_id", "path", "reason"]
    reasons = dict(zip(skipped["utt_id"], skipped["reason"], strict=True))
    assert reasons["1_theo_0"] == "file is empty (0 bytes)"
    assert reasons["1_theo_1"].startswith("unreadable audio header")
    assert reasons["1_theo_2"] == TRUNCATED
    assert set(skipped["path"]) == {
        str(fsdd_with_faults / "recordings" / f"{u}.wav") for u in reasons
    }
    for path in skipped["path"]:
        assert path in captured.err  # each skipped file is printed too
    manifest = pd.read_parquet(out).set_index("utt_id")
    assert manifest["sample_rate"].to_dict() == {"0_theo_0": 8000, "0_theo_1": SR}
    assert manifest["channels"].to_dict() == {"0_theo_0": 1, "0_theo_1": 2}


def test_manifest_cli_default_stops_naming_the_file(fsdd_with_faults, tmp_path, capsys):
    out = tmp_path / "m.parquet"
    argv = ["--corpus", "fsdd", "--root", str(fsdd_with_faults), "--out", str(out)]
    with pytest.raises(SystemExit) as exit_info:
        _manifest_cli().main(argv)
    assert exit_info.value.code == 2  # a user error
    err = capsys.readouterr().err
    assert "1_theo_0.wav: file is empty (0 bytes)" in err
    assert "use --on-error skip" in err
    assert not out.exists()
