"""Whole-simulation checkpoints: torch.save / torch.load(weights_only=True).

Only tensors and plain values are written, never arbitrary pickles, so a
checkpoint from an untrusted source cannot execute code when loaded. In memory
the server state is numpy; arrays become tensors on the way to disk and back.
torch is imported only here, when a checkpoint is written or read.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from raysim.config import SimulationConfig

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Keys that may differ between the run that wrote a checkpoint and the one resuming it.
_RESUMABLE_CHANGES = {"rounds", "checkpoint", "eval"}


def _comparable(cfg: SimulationConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.model_dump(mode="json").items() if k not in _RESUMABLE_CHANGES}


def _to_tensors(value: Any) -> Any:
    import torch

    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))  # a copy: object-store arrays are read-only
    if isinstance(value, dict):
        return {k: _to_tensors(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_tensors(v) for v in value)
    return value


def _to_arrays(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.numpy()
    if isinstance(value, dict):
        return {k: _to_arrays(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_arrays(v) for v in value)
    return value


def save_checkpoint(
    state: dict[str, Any], cfg: SimulationConfig, path: str | Path, keep: int | None = None
) -> Path:
    """Atomically write `state` (+ config) to `path`; keep only the newest `keep` in its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    import torch  # lazy: the driver lists checkpoints without paying for torch

    blob = {
        "format": FORMAT_VERSION,
        "config": json.dumps(_comparable(cfg), sort_keys=True),
        **_to_tensors(state),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)  # a crash mid-write never leaves a truncated checkpoint behind
    if keep:
        for old in sorted(path.parent.glob("round-*.pt"))[:-keep]:
            old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path, cfg: SimulationConfig | None = None) -> dict[str, Any]:
    """Read a checkpoint (arrays as numpy); with `cfg`, refuse one written by a
    different configuration."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    import torch

    blob = torch.load(path, weights_only=True)
    if blob.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported checkpoint format {blob.get('format')!r}")
    if cfg is not None and blob["config"] != json.dumps(_comparable(cfg), sort_keys=True):
        raise ValueError(f"{path}: written by a different configuration; refusing to resume")
    return _to_arrays(blob)


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The newest round-*.pt in `directory`, or None."""
    found = sorted(Path(directory).glob("round-*.pt")) if Path(directory).is_dir() else []
    return found[-1] if found else None


def load_initial_weights(path: str | Path, size: int) -> np.ndarray:
    """Global weights to start from (warm start, e.g. a model pretrained elsewhere):
    a raysim checkpoint, or a file holding one flat tensor of the model's state."""
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"init_checkpoint: no such file {path}")
    blob = torch.load(path, weights_only=True)
    vec = blob["global"] if isinstance(blob, dict) else blob
    if not isinstance(vec, torch.Tensor) or vec.numel() != size:
        got = vec.numel() if isinstance(vec, torch.Tensor) else type(vec).__name__
        msg = f"init_checkpoint {path}: expected a flat state of {size} values, got {got}"
        raise ValueError(msg)
    return vec.reshape(-1).float().numpy().copy()
