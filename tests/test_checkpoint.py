"""Whole-simulation checkpoint files (format 2: npz + JSON, no torch, no pickle)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from raysim.config import parse_config
from raysim.engine.checkpoint import (
    FORMAT_VERSION,
    latest_checkpoint,
    load_checkpoint,
    load_initial_weights,
    save_checkpoint,
)

CFG = {
    "seed": 3,
    "rounds": 3,
    "task": {"name": "feature_classification", "hidden": [16]},
    "data": {
        "source": "synthetic_features",
        "dim": 8,
        "n_train": 600,
        "n_test": 200,
        "partition": {"name": "dirichlet", "n_clients": 12, "alpha": 0.5},
    },
}


def cfg(**overrides):
    return parse_config({**CFG, **overrides})


def every_kind() -> dict:
    """A state holding every kind of value a checkpoint may hold."""
    ro = np.arange(4, dtype=np.float32)
    ro.flags.writeable = False  # as arrays from the object store are
    return {
        "round": 7,
        "global": np.linspace(-1, 1, 10, dtype=np.float32),
        "read_only": ro,
        "f64": np.array([[1.5, np.nan], [np.inf, -0.0]]),
        "i64": np.array([1, -(2**62)], dtype=np.int64),
        "u8": np.array([0, 255], dtype=np.uint8),
        "bools": np.array([True, False]),
        "zero_d": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.int32),
        "strs": np.array(["ab", "c"]),
        "np_scalars": [np.float32(0.1), np.float64(1 / 3), np.int64(-5), np.bool_(True)],
        "plain": [None, True, False, 0, -1, 2**70, 0.1, float("inf"), "text", ""],
        "tuples": (1, (2.0, "x"), np.ones(2, dtype=np.float16), ()),
        "int_keys": {0: {"momentum_buffer": np.zeros(3)}, 5: None, -1: [1, 2]},
        "mixed_keys": {1: "one", "1": "string one", (2, "b"): "tuple key", None: 0, 2.5: 1},
        "client_states": {"3": {"c": np.full(3, 0.5, dtype=np.float32)}},
        "history": [{"round": 1, "train_loss": None, "eval_acc": 0.5}, {"round": 2}],
        "nested": {"a": {"b": {"c": [[], {}, {"d": np.eye(2)}]}}},
        "tag_like": {"dict": 1, "array": "a0", "tuple": [1]},  # keys that look like tags
        "empty_dict": {},
    }


def assert_same(got, want, where="state"):
    assert type(got) is type(want), f"{where}: {type(got)} != {type(want)}"
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape, where
        np.testing.assert_array_equal(got, want, err_msg=where)
    elif isinstance(want, np.generic):
        assert got.dtype == want.dtype, where
        assert got == want, where
    elif isinstance(want, dict):
        assert list(got) == list(want), where
        assert all(type(a) is type(b) for a, b in zip(got, want, strict=True)), where
        for k in want:
            assert_same(got[k], want[k], f"{where}[{k!r}]")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), where
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(want, float) and want != want:
        assert got != got, where
    else:
        assert got == want, where


def test_every_kind_of_value_round_trips_exactly(tmp_path):
    state = every_kind()
    path = save_checkpoint(state, cfg(), tmp_path / "round-00007.pt")
    assert path == tmp_path / "round-00007.pt" and path.is_file()  # the name as given
    assert sorted(p.name for p in tmp_path.iterdir()) == ["round-00007.pt"]  # no .tmp left
    back = load_checkpoint(path, cfg())
    assert back.pop("format") == FORMAT_VERSION
    assert isinstance(back.pop("config"), str)
    assert_same(back, state)
    assert back["global"].flags.writeable  # fresh arrays, not views of the file


def test_a_different_configuration_is_refused_and_resumable_changes_are_not(tmp_path):
    path = save_checkpoint({"round": 1}, cfg(), tmp_path / "round-00001.pt")
    assert load_checkpoint(path, cfg(rounds=10, eval={"every": 5}))["round"] == 1
    with pytest.raises(ValueError, match="different configuration"):
        load_checkpoint(path, cfg(seed=4))


def test_keep_prunes_older_round_files_and_latest_finds_the_newest(tmp_path):
    assert latest_checkpoint(tmp_path / "missing") is None
    for r in range(1, 5):
        save_checkpoint({"round": r}, cfg(), tmp_path / f"round-{r:05d}.pt", keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["round-00003.pt", "round-00004.pt"]
    assert latest_checkpoint(tmp_path) == tmp_path / "round-00004.pt"
    assert load_checkpoint(latest_checkpoint(tmp_path))["round"] == 4


def test_a_state_that_is_not_arrays_and_plain_values_is_not_written(tmp_path):
    with pytest.raises(TypeError, match=r"state\['bad'\] is a object"):
        save_checkpoint({"bad": object()}, cfg(), tmp_path / "x.pt")
    with pytest.raises(TypeError, match="object array"):
        save_checkpoint({"bad": np.array([{}], dtype=object)}, cfg(), tmp_path / "x.pt")
    assert not any(tmp_path.iterdir())


def test_a_format_2_file_is_read_without_importing_torch(tmp_path):
    state = {"round": 2, "global": np.arange(6, dtype=np.float32), "k": {3: (1, "a")}}
    path = save_checkpoint(state, cfg(), tmp_path / "round-00002.pt")
    code = f"""
import sys
import numpy as np
from raysim.config import parse_config
from raysim.engine.checkpoint import load_checkpoint, load_initial_weights, save_checkpoint
blob = load_checkpoint({str(path)!r}, parse_config({CFG!r}))
assert blob["round"] == 2 and blob["k"] == {{3: (1, "a")}}, blob
assert np.array_equal(load_initial_weights({str(path)!r}, 6), np.arange(6, dtype=np.float32))
save_checkpoint(blob, parse_config({CFG!r}), {str(tmp_path / "again.pt")!r})
assert "torch" not in sys.modules, "torch was imported"
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
    assert load_checkpoint(tmp_path / "again.pt")["k"] == {3: (1, "a")}


class _Boom:
    def __reduce__(self):
        return (exec, ("open(__import__('os').environ['BOOM_MARK'], 'w').close()",))


def test_a_file_holding_a_pickle_is_refused(tmp_path, monkeypatch):
    mark = tmp_path / "executed"
    monkeypatch.setenv("BOOM_MARK", str(mark))
    payload = np.empty(1, dtype=object)
    payload[0] = _Boom()
    # a format-2 file whose array entry is a pickled object array
    doc = {"format": FORMAT_VERSION, "config": "{}", "state": {"dict": {"x": {"array": "a0"}}}}
    meta = np.frombuffer(json.dumps(doc).encode(), np.uint8)
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        np.savez(f, raysim=meta, a0=payload)
    with pytest.raises(ValueError, match="allow_pickle"):
        load_checkpoint(evil)
    # a bare pickle (what an old torch file could be): torch's weights_only loader refuses it
    bare = tmp_path / "bare.pt"
    bare.write_bytes(pickle.dumps({"format": 1, "x": _Boom()}, protocol=2))
    with pytest.raises(ValueError, match="not a loadable checkpoint"):
        load_checkpoint(bare)
    with pytest.raises(ValueError, match="not a loadable checkpoint"):
        load_initial_weights(bare, 1)
    assert not mark.exists()


def test_a_malformed_structure_is_refused(tmp_path):
    for state in ({"dict": {"x": {"array": "raysim"}}}, {"list": []}, {"dict": {"x": {"a": 1}}}):
        doc = {"format": FORMAT_VERSION, "config": "{}", "state": state}
        path = tmp_path / "bad.pt"
        with open(path, "wb") as f:
            np.savez(f, raysim=np.frombuffer(json.dumps(doc).encode(), np.uint8))
        with pytest.raises(ValueError, match="checkpoint"):
            load_checkpoint(path)
    with zipfile.ZipFile(path, "w") as z:  # a zip that is neither format
        z.writestr("other.txt", "hello")
    with pytest.raises(ValueError):
        load_checkpoint(path)


def test_format_1_torch_files_are_still_read(tmp_path):
    torch = pytest.importorskip("torch")
    from raysim.engine.checkpoint import _comparable

    blob = {
        "format": 1,
        "config": json.dumps(_comparable(cfg()), sort_keys=True),
        "round": 3,
        "global": torch.arange(5, dtype=torch.float32),
        "server_optimizer": {"m": torch.zeros(5, dtype=torch.float64)},
        "round_lr": {"opt": {"state": {0: {"b": torch.ones(1)}}, "param_groups": [{"lr": 0.1}]}},
        "history": [{"round": 1}],
    }
    path = tmp_path / "round-00003.pt"
    torch.save(blob, path)
    back = load_checkpoint(path, cfg())
    assert back["round"] == 3 and back["history"] == [{"round": 1}]
    assert back["global"].dtype == np.float32 and back["server_optimizer"]["m"].dtype == np.float64
    assert list(back["round_lr"]["opt"]["state"]) == [0]
    assert isinstance(back["round_lr"]["opt"]["state"][0]["b"], np.ndarray)
    np.testing.assert_array_equal(load_initial_weights(path, 5), np.arange(5, dtype=np.float32))
    with pytest.raises(ValueError, match="different configuration"):
        load_checkpoint(path, cfg(seed=9))


def test_initial_weights_from_a_format_2_checkpoint_check_the_size(tmp_path):
    path = save_checkpoint({"global": np.ones(4, np.float32)}, cfg(), tmp_path / "w.pt")
    got = load_initial_weights(path, 4)
    assert got.dtype == np.float32 and np.array_equal(got, np.ones(4))
    with pytest.raises(ValueError, match="expected a flat state of 5 values, got 4"):
        load_initial_weights(path, 5)
