"""Whole-simulation checkpoints: one ``.npz`` of arrays plus a JSON structure.

Format 2 (written now) is a zip in numpy's ``.npz`` layout, whatever the file's name:
every array of the state is one entry (``a0``, ``a1``, ...) and the entry ``raysim``
holds, as UTF-8 bytes, a JSON document with the format, the configuration and the
state's nested structure. In that structure plain values (None, bool, int, float, str)
and lists are JSON's own; everything else is an object with one tag::

    {"dict": {...}}               a dict whose keys are all strings
    {"map": [[key, value], ...]}  any other dict (int keys stay ints, tuple keys tuples)
    {"tuple": [...]}
    {"array": "a3"}               an array entry, dtype and shape as written
    {"scalar": ["<f4", 0.5]}      a numpy scalar (its dtype is kept)

Reading never unpickles: entries are loaded with ``allow_pickle=False`` (an object
array is refused) and the structure is JSON, so a checkpoint from an untrusted source
cannot execute code. Nothing here imports torch, so the aggregator stays free of it.

Format 1 (``torch.save``, read with ``torch.load(weights_only=True)``, itself safe) is
still read; only then is torch imported.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from raysim.config import SimulationConfig

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
# Keys that may differ between the run that wrote a checkpoint and the one resuming it.
_RESUMABLE_CHANGES = {"rounds", "checkpoint", "eval"}
_META = "raysim"  # the npz entry holding the JSON document
_TAGS = ("dict", "map", "tuple", "array", "scalar")


def _comparable(cfg: SimulationConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.model_dump(mode="json").items() if k not in _RESUMABLE_CHANGES}


# -- encoding -------------------------------------------------------------------------
class _Encoder:
    """Turns a state into a JSON-able structure, collecting its arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _array(self, value: np.ndarray, where: str) -> dict[str, str]:
        if value.dtype.hasobject:
            raise TypeError(f"checkpoint: {where} is an object array (only plain dtypes)")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = value
        return {"array": name}

    def encode(self, value: Any, where: str = "state") -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, np.generic):  # before int/float: np.float64 is a float
            if value.dtype.kind in "biuf" and value.dtype.itemsize <= 8:
                return {"scalar": [value.dtype.str, value.item()]}
            return {"scalar": self._array(np.asarray(value), where)["array"]}
        if isinstance(value, int | float):
            return value
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        torch = sys.modules.get("torch")  # a tensor means torch is loaded already
        if torch is not None and isinstance(value, torch.Tensor):
            return self._array(value.detach().cpu().numpy(), where)  # read back as numpy
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, dict):
            if all(type(k) is str for k in value):
                return {"dict": {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}}
            return {
                "map": [
                    [self.encode(k, f"{where} key"), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ]
            }
        raise TypeError(
            f"checkpoint: {where} is a {type(value).__name__}; only arrays, plain values, "
            "lists, tuples and dicts can be written"
        )


def _decode(node: Any, arrays: Any, path: Path) -> Any:
    if node is None or isinstance(node, bool | int | float | str):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays, path) for v in node]
    if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in _TAGS:
        raise ValueError(f"{path}: malformed checkpoint structure near {str(node)[:80]!r}")
    tag, body = next(iter(node.items()))
    if tag == "dict" and isinstance(body, dict):
        return {k: _decode(v, arrays, path) for k, v in body.items()}
    if tag == "map" and isinstance(body, list) and all(_is_pair(p) for p in body):
        return {_decode(k, arrays, path): _decode(v, arrays, path) for k, v in body}
    if tag == "tuple" and isinstance(body, list):
        return tuple(_decode(v, arrays, path) for v in body)
    if tag == "array" and isinstance(body, str):
        return _entry(arrays, body, path)
    if tag == "scalar" and isinstance(body, str):
        return _entry(arrays, body, path)[()]
    if tag == "scalar" and _is_pair(body) and isinstance(body[0], str):
        dtype = np.dtype(body[0])
        if dtype.kind not in "biuf" or not isinstance(body[1], bool | int | float):
            raise ValueError(f"{path}: malformed checkpoint scalar {body!r}")
        return dtype.type(body[1])
    raise ValueError(f"{path}: malformed checkpoint structure near {str(node)[:80]!r}")


def _is_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2


def _entry(arrays: Any, name: str, path: Path) -> np.ndarray:
    if name == _META or name not in arrays.files:
        raise ValueError(f"{path}: checkpoint refers to a missing entry {name!r}")
    return arrays[name]  # allow_pickle=False: an object array raises ValueError


# -- files ----------------------------------------------------------------------------
def _is_v2(path: Path) -> bool:
    """Whether `path` is a format-2 checkpoint (a zip with the raysim entry)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return f"{_META}.npy" in z.namelist()


def _read_v2(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON header (format, config) and the decoded state of a format-2 file."""
    with np.load(path, allow_pickle=False) as arrays:
        raw = arrays[_META]
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"{path}: malformed checkpoint header")
        doc = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT_VERSION:
            found = doc.get("format") if isinstance(doc, dict) else None
            raise ValueError(f"{path}: unsupported checkpoint format {found!r}")
        state = _decode(doc.get("state"), arrays, path)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: malformed checkpoint structure (state is not a dict)")
    return doc, state


def _torch_load(path: Path) -> Any:
    """A format-1 (torch) file, with weights_only=True: tensors and plain values only."""
    import torch

    try:
        return torch.load(path, weights_only=True)
    except Exception as e:  # an UnpicklingError for anything beyond tensors / plain values
        raise ValueError(f"{path}: not a loadable checkpoint ({type(e).__name__}: {e})") from e


def _tensors_to_arrays(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.numpy()
    if isinstance(value, dict):
        return {k: _tensors_to_arrays(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_tensors_to_arrays(v) for v in value)
    return value


def save_checkpoint(
    state: dict[str, Any], cfg: SimulationConfig, path: str | Path, keep: int | None = None
) -> Path:
    """Atomically write `state` (+ config) to `path`; keep only the newest `keep` in its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    enc = _Encoder()
    doc = {
        "format": FORMAT_VERSION,
        "config": json.dumps(_comparable(cfg), sort_keys=True),
        "state": enc.encode(state),
    }
    meta = np.frombuffer(json.dumps(doc, allow_nan=True).encode("utf-8"), np.uint8)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with open(tmp, "wb") as f:  # a file object: np.savez keeps the name as given
            np.savez(f, **{_META: meta}, **enc.arrays)
        os.replace(tmp, path)  # a crash mid-write never leaves a truncated checkpoint behind
    finally:
        tmp.unlink(missing_ok=True)
    if keep:
        for old in sorted(path.parent.glob("round-*.pt"))[:-keep]:
            old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path, cfg: SimulationConfig | None = None) -> dict[str, Any]:
    """Read a checkpoint (arrays as numpy); with `cfg`, refuse one written by a
    different configuration. The result holds the state's keys plus ``format`` and
    ``config``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if _is_v2(path):
        doc, state = _read_v2(path)
        blob = {"format": doc["format"], "config": doc.get("config"), **state}
    else:
        blob = _torch_load(path)
        if not isinstance(blob, dict) or blob.get("format") != 1:
            found = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
            raise ValueError(f"{path}: unsupported checkpoint format {found!r}")
        blob = _tensors_to_arrays(blob)
    if cfg is not None and blob["config"] != json.dumps(_comparable(cfg), sort_keys=True):
        raise ValueError(f"{path}: written by a different configuration; refusing to resume")
    return blob


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The newest round-*.pt in `directory`, or None."""
    found = sorted(Path(directory).glob("round-*.pt")) if Path(directory).is_dir() else []
    return found[-1] if found else None


def load_initial_weights(path: str | Path, size: int) -> np.ndarray:
    """Global weights to start from (warm start, e.g. a model pretrained elsewhere):
    a raysim checkpoint, or a file holding one flat tensor of the model's state.
    torch is imported only for a file that is not a format-2 raysim checkpoint."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"init_checkpoint: no such file {path}")
    if _is_v2(path):
        vec = _read_v2(path)[1].get("global")
        got = vec.size if isinstance(vec, np.ndarray) else type(vec).__name__
        if not isinstance(vec, np.ndarray) or vec.size != size:
            msg = f"init_checkpoint {path}: expected a flat state of {size} values, got {got}"
            raise ValueError(msg)
        return vec.reshape(-1).astype(np.float32)  # a copy
    import torch

    blob = _torch_load(path)
    vec = blob["global"] if isinstance(blob, dict) else blob
    if not isinstance(vec, torch.Tensor) or vec.numel() != size:
        got = vec.numel() if isinstance(vec, torch.Tensor) else type(vec).__name__
        msg = f"init_checkpoint {path}: expected a flat state of {size} values, got {got}"
        raise ValueError(msg)
    return vec.reshape(-1).float().numpy().copy()
