"""The bad-input matrix: one table of faulty inputs (audio files, feature stores, config
values), each given to the command a user types, in-process: the message names the
culprit (the file, the store's shard or rows, the config key and value), there is no
traceback, and nothing else is lost (the good files stay in the manifest, nothing is
written where the command failed). No Ray: everything fails, or is converted, before it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import soundfile as sf

from raysim.features.layout import shard_path, with_metadata, write_atomic

REPO = Path(__file__).resolve().parents[1]
SR = 16000
GOOD = ("spk0/a", "spk1/b")  # the files every audio case keeps
PATTERN = "{speaker}/{utt}.wav"


def _entry(path: str):
    """An entry point (`experiments/run.py`, `features/manifest.py`) as a module."""
    file = REPO / path
    spec = importlib.util.spec_from_file_location(f"{file.stem}_cli", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _call(main: Callable[[list[str]], int], argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as end:  # argparse-style exits
        return int(end.code)


def _tone(n: int, sr: int = SR) -> np.ndarray:
    return (0.1 * np.sin(2 * np.pi * 440 * np.arange(n) / sr)).astype(np.float32)


# -- audio: a folder corpus of two good files and the culprit spk2/bad.wav -------------


def _audio(tmp: Path, write: Callable[[Path], None]) -> list[str]:
    root = tmp / "corpus"
    for name in GOOD:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / f"{name}.wav", _tone(SR), SR)
    (root / "spk2").mkdir()
    write(root / "spk2" / "bad.wav")
    out = tmp / "m.parquet"
    return ["--corpus", "folder", "--root", str(root), "--pattern", PATTERN, "--out", str(out)]


def _corrupt(path: Path) -> None:
    path.write_bytes(b"this is not audio " * 16)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _rate_8k(path: Path) -> None:
    sf.write(path, _tone(8000, 8000), 8000)


def _stereo(path: Path) -> None:
    sf.write(path, np.stack([_tone(SR), _tone(SR)], axis=1), SR)


# -- features: a feature store of 6 speakers x 8 utterances (u0..u47) -----------------


def _store(tmp: Path, *, bad: float | None = None, drop: str | None = None,
           dims: tuple[int, ...] = (5,), rename: bool = False) -> Path:  # fmt: skip
    """One shard per entry of `dims` (the features' dimension in that shard)."""
    root = tmp / "store"
    root.mkdir()
    rng = np.random.default_rng(0)
    n = 48
    meta = pd.DataFrame({
        "utt_id": [f"u{i}" for i in range(n)],
        "speaker": np.repeat([f"spk{s}" for s in range(6)], 8),
        "label": np.tile(["ang", "hap", "neu", "sad"], n // 4),
    })  # fmt: skip
    x = rng.normal(size=(n, max(dims))).astype(np.float32)
    if bad is not None:
        x[3, 1] = bad
    if drop:
        meta = meta.drop(columns=[drop])
    for i, rows in enumerate(np.array_split(np.arange(n), len(dims))):
        part = meta.iloc[rows].reset_index(drop=True)
        if rename and i == 1:
            part = part.rename(columns={"speaker": "spk"})
        table = pa.Table.from_pandas(part, preserve_index=False)
        feats = pa.array(list(x[rows, : dims[i]]), type=pa.list_(pa.float32()))
        meta_json = {"shard": i, "feature_set": "egemaps", "params": {}, "dim": dims[i]}
        table = with_metadata(table.append_column("features", feats), meta_json)
        write_atomic(table, shard_path(root, i))
    return root


def _describe(*overrides: str) -> list[str]:
    return ["--describe", *overrides]


def _on_store(tmp: Path, **kwargs) -> list[str]:
    store = _store(tmp, **kwargs)
    return _describe("data.source=feature_store", f"data.path={store}")


@dataclass(frozen=True)
class Case:
    """One class of bad input: how to make it, the entry point it goes to, and the message
    naming the culprit ({tmp}: the test's folder). `status` 0: the input is accepted and
    converted (the message says how); 2: a user error."""

    name: str
    entry: str
    make: Callable[[Path], list[str]]
    message: str
    status: int = 2


MANIFEST, RUN = "features/manifest.py", "experiments/run.py"
BAD_WAV = "{tmp}/corpus/spk2/bad.wav"
STORE = "{tmp}/store"
CASES = [
    # audio
    Case("corrupt_wav", MANIFEST, lambda t: _audio(t, _corrupt),
         f"{BAD_WAV}: unreadable audio header"),
    Case("zero_length_wav", MANIFEST, lambda t: _audio(t, _empty),
         f"{BAD_WAV}: file is empty (0 bytes)"),
    Case("8khz_wav", MANIFEST, lambda t: _audio(t, _rate_8k),
         "audio: 3 files: 8000 Hz (1), 16000 Hz (2)", status=0),
    Case("stereo_wav", MANIFEST, lambda t: _audio(t, _stereo),
         "audio: 3 files: 16000 Hz (3); 1 stereo", status=0),
    # features
    Case("nan_features", RUN, lambda t: _on_store(t, bad=np.nan),
         f"{STORE}: NaN/inf features in 1 rows ['u3']"),
    Case("inf_features", RUN, lambda t: _on_store(t, bad=np.inf),
         f"{STORE}: NaN/inf features in 1 rows ['u3']"),
    Case("store_dim_drift", RUN, lambda t: _on_store(t, dims=(5, 7)),
         f"{STORE}/shard-00001.parquet: dim 7 (other shards: 5)"),
    Case("store_column_drift", RUN, lambda t: _on_store(t, dims=(5, 5), rename=True),
         f"{STORE}/shard-00001.parquet: columns utt_id: string, spk: string"),
    Case("missing_label_column", RUN, lambda t: _on_store(t, drop="label"),
         f"data.label_column: {STORE} has no column 'label'"),
    # config
    Case("typo_key", RUN, lambda t: _describe("local.optimzer.lr=0.1"),
         "local.optimzer: unknown key; did you mean 'optimizer'?"),
    Case("fraction_1.5", RUN, lambda t: _describe("sampling.fraction=1.5"),
         "sampling.fraction: Input should be less than or equal to 1 (got 1.5)"),
    Case("negative_lr", RUN, lambda t: _describe("local.optimizer.lr=-0.1"),
         "local.optimizer.lr: Input should be greater than 0 (got -0.1)"),
    Case("missing_path", RUN,
         lambda t: _describe("data.source=feature_store", f"data.path={t}/nowhere"),
         "data.path: {tmp}/nowhere does not exist"),
    Case("semi_without_labels", RUN,
         lambda t: _describe("task.name=semi_ser", "task.mode=semi", "task.label_rate=0"),
         "task.label_rate: Value error, 0 with mode semi leaves no labelled row"),
    Case("more_clients_than_speakers", RUN,
         lambda t: [*_on_store(t), "data.partition.name=group", "data.partition.n_clients=9"],
         "data.partition.n_clients: n_clients=9 exceeds the number of groups (speakers) "
         "in the training data (4)"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_names_its_culprit_and_loses_nothing_else(case, tmp_path, capsys):
    argv = case.make(tmp_path)
    status = _call(_entry(case.entry).main, argv)
    out, err = capsys.readouterr()
    assert status == case.status, err
    assert "Traceback" not in err
    assert case.message.format(tmp=tmp_path) in err
    if case.entry == RUN:  # --describe: the federation is printed only when it is valid
        assert ("clients" in out) == (status == 0)
        return
    manifest = tmp_path / "m.parquet"
    if status != 0:  # stopped, naming the file; nothing written
        assert not manifest.exists()
        assert "use --on-error skip" in err
        # ... and with --on-error skip the good files are all kept, the culprit listed
        assert _call(_entry(MANIFEST).main, [*argv, "--on-error", "skip"]) == 0
        skipped = pd.read_csv(tmp_path / "m.skipped.csv")
        assert skipped["path"].tolist() == [BAD_WAV.format(tmp=tmp_path)]
    kept = pd.read_parquet(manifest)
    expected = {*GOOD, *(["spk2/bad"] if status == 0 else [])}
    assert set(kept["utt_id"]) == expected
    if status == 0:  # converted later, and its format recorded here
        row = kept.set_index("utt_id").loc["spk2/bad"]
        assert (row["sample_rate"], row["channels"]) in {(8000, 1), (SR, 2)}
