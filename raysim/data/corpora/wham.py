"""WHAM! noise: ``wham_noise/{tr,cv,tt}/*.wav`` (binaural urban noise, read as mono)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from raysim.data.corpora._common import finish_manifest, list_files, require_dir
from raysim.data.manifest import OnError

CORPUS = "WHAM! noise"
EXPECTED = "wham_noise/{tr,cv,tt}/*.wav"
SPLITS = {"tr": "train", "cv": "dev", "tt": "test"}


def build_wham_manifest(
    root: str | Path, *, probe: bool = True, on_error: OnError = "raise"
) -> pd.DataFrame:
    """Manifest of WHAM! noise; `root` is the folder holding ``wham_noise/`` or that folder.

    ``split`` maps tr/cv/tt to train/dev/test; ``label``/``noise_class`` are null (WHAM!
    has no class labels); ``utt_id`` is ``{tr|cv|tt}/{file stem}``.
    """
    root = require_dir(root, CORPUS, EXPECTED)
    base = root / "wham_noise" if (root / "wham_noise").is_dir() else root
    records = [
        {"utt_id": f"{sub}/{path.stem}", "path": str(path), "split": split}
        for sub, split in SPLITS.items()
        for path in list_files(base / sub, "*.wav")
    ]
    return finish_manifest(
        records,
        corpus=CORPUS,
        root=root,
        expected=EXPECTED,
        probe=probe,
        on_error=on_error,
        extra_columns=("noise_class",),
    )
