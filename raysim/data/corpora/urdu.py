"""URDU emotional speech: ``{Angry,Happy,Neutral,Sad}/S{M,F}{speaker}_F{n}_{A,H,N,S}{k}.wav``."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from raysim.data.corpora._common import (
    CorpusLayoutError,
    finish_manifest,
    list_files,
    match_name,
    require_dir,
)
from raysim.data.manifest import OnError

CORPUS = "URDU"
EXPECTED = "folders Angry/, Happy/, Neutral/, Sad/ with S{M,F}{speaker}_F{n}_{A,H,N,S}{k}.wav"
_FILE_RE = re.compile(r"^S([MF])(\d+)_F(\d+)_([AHNS])(\d+)\.wav$")
FOLDERS = {"Angry": "A", "Happy": "H", "Neutral": "N", "Sad": "S"}
LABELS = {"A": "ang", "H": "hap", "N": "neu", "S": "sad"}


def build_urdu_manifest(
    root: str | Path, *, probe: bool = True, on_error: OnError = "raise"
) -> pd.DataFrame:
    """Manifest of URDU: speaker ``SM1``, gender from its M/F, label ang/hap/neu/sad."""
    root = require_dir(root, CORPUS, EXPECTED)
    records = []
    for folder, letter in FOLDERS.items():
        for path in list_files(root / folder, "*.wav"):
            m = match_name(_FILE_RE, path, CORPUS, "S{M,F}{speaker}_F{n}_{A,H,N,S}{k}.wav")
            gender, speaker, emotion = m.group(1), m.group(2), m.group(4)
            if emotion != letter:
                raise CorpusLayoutError(
                    f"{CORPUS}: file {path} has emotion letter {emotion} but sits in {folder}/"
                )
            records.append(
                {
                    "utt_id": path.stem,
                    "path": str(path),
                    "speaker": f"S{gender}{speaker}",
                    "gender": gender,
                    "label": LABELS[emotion],
                }
            )
    return finish_manifest(
        records, corpus=CORPUS, root=root, expected=EXPECTED, probe=probe, on_error=on_error
    )
