"""DEMAND multichannel noise: ``{ENV}/ch01.wav`` … ``ch16.wav`` (e.g. DKITCHEN, NPARK)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from raysim.data.corpora._common import finish_manifest, list_files, require_dir
from raysim.data.manifest import OnError

CORPUS = "DEMAND"
EXPECTED = "environment folders such as DKITCHEN/ holding ch01.wav … ch16.wav"
_ENV_RE = re.compile(r"^[A-Z]+$")
_CHANNEL_RE = re.compile(r"^ch(\d{2})\.wav$")
# The environment name's first letter is DEMAND's category.
CATEGORIES = {
    "D": "domestic",
    "N": "nature",
    "O": "office",
    "P": "public",
    "S": "street",
    "T": "transportation",
}


def build_demand_manifest(
    root: str | Path,
    *,
    channels: Sequence[int] | None = None,
    probe: bool = True,
    on_error: OnError = "raise",
) -> pd.DataFrame:
    """Manifest of DEMAND, one row per (environment, channel).

    `channels` keeps only those microphone channels (1–16; default all). ``label`` and
    ``noise_class`` are the environment (DKITCHEN), extra columns ``category`` (domestic,
    nature, …) and ``channel``; ``utt_id`` is ``{ENV}_ch{NN}``.
    """
    root = require_dir(root, CORPUS, EXPECTED)
    wanted = None if channels is None else {int(c) for c in channels}
    records = []
    for env_dir in sorted(p for p in root.iterdir() if p.is_dir() and _ENV_RE.match(p.name)):
        for path in list_files(env_dir, "ch*.wav"):
            m = _CHANNEL_RE.match(path.name)
            if m is None or (wanted is not None and int(m.group(1)) not in wanted):
                continue
            env = env_dir.name
            records.append(
                {
                    "utt_id": f"{env}_{path.stem}",
                    "path": str(path),
                    "label": env,
                    "noise_class": env,
                    "category": CATEGORIES.get(env[0]),
                    "channel": int(m.group(1)),
                }
            )
    return finish_manifest(
        records,
        corpus=CORPUS,
        root=root,
        expected=EXPECTED,
        probe=probe,
        on_error=on_error,
        extra_columns=("noise_class", "category", "channel"),
    )
