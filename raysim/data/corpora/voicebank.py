"""VoiceBank-DEMAND (Valentini et al.): ``clean_trainset_28spk_wav/p226_001.wav`` and friends."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import pandas as pd

from raysim.data.corpora._common import finish_manifest, list_files, match_name, require_dir
from raysim.data.manifest import OnError

CORPUS = "VoiceBank-DEMAND"
EXPECTED = "clean_trainset_28spk_wav/ (or clean_testset_wav/) with p226_001.wav-style files"
_FILE_RE = re.compile(r"^(p\d+)_(\d+)\.wav$")


def build_voicebank_manifest(
    root: str | Path,
    *,
    train_speakers: Literal["28spk", "56spk"] = "28spk",
    signal: Literal["clean", "noisy"] = "clean",
    probe: bool = True,
    on_error: OnError = "raise",
) -> pd.DataFrame:
    """Manifest of VoiceBank-DEMAND, one row per utterance, train and test sets.

    ``path`` is the `signal` version; extra columns ``clean_path`` and ``noisy_path`` hold
    both versions of the pair (null where a counterpart is missing). ``speaker`` is the
    VCTK id (p226); gender is not part of this corpus's files and stays null.
    """
    if train_speakers not in ("28spk", "56spk"):
        raise ValueError(f"train_speakers must be '28spk' or '56spk', got {train_speakers!r}")
    if signal not in ("clean", "noisy"):
        raise ValueError(f"signal must be 'clean' or 'noisy', got {signal!r}")
    root = require_dir(root, CORPUS, EXPECTED)
    sets = {"train": f"trainset_{train_speakers}_wav", "test": "testset_wav"}
    records = []
    for split, suffix in sets.items():
        clean_dir, noisy_dir = root / f"clean_{suffix}", root / f"noisy_{suffix}"
        clean = {p.name: p for p in list_files(clean_dir, "*.wav")}
        noisy = {p.name: p for p in list_files(noisy_dir, "*.wav")}
        for name in sorted(clean.keys() | noisy.keys()):
            path = clean.get(name) or noisy[name]
            m = match_name(_FILE_RE, path, CORPUS, "p226_001.wav")
            pair = {"clean_path": clean.get(name), "noisy_path": noisy.get(name)}
            chosen = pair[f"{signal}_path"]
            if chosen is None:
                continue  # only the other version exists for this utterance
            records.append(
                {
                    "utt_id": path.stem,
                    "path": str(chosen),
                    "speaker": m.group(1),
                    "split": split,
                    **{k: None if v is None else str(v) for k, v in pair.items()},
                }
            )
    return finish_manifest(
        records,
        corpus=CORPUS,
        root=root,
        expected=EXPECTED,
        probe=probe,
        on_error=on_error,
        extra_columns=("clean_path", "noisy_path"),
    )
