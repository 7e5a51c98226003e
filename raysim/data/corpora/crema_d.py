"""CREMA-D: ``AudioWAV/1001_DFA_ANG_XX.wav`` (actor_sentence_emotion_level)."""

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

CORPUS = "CREMA-D"
EXPECTED = "AudioWAV/{actor}_{sentence}_{emotion}_{level}.wav such as 1001_DFA_ANG_XX.wav"
_FILE_RE = re.compile(r"^(\d{4})_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_([A-Z]{2})\.wav$")
_SEXES = {"male": "M", "female": "F"}


def read_demographics(path: Path) -> dict[str, str]:
    """Actor id → 'M'/'F' from VideoDemographics.csv (columns ActorID, Sex)."""
    table = pd.read_csv(path, dtype={"ActorID": str, "Sex": str})
    if not {"ActorID", "Sex"} <= set(table.columns):
        raise CorpusLayoutError(f"{CORPUS}: {path} lacks the ActorID/Sex columns")
    return {
        actor: _SEXES[sex.strip().lower()]
        for actor, sex in zip(table["ActorID"], table["Sex"], strict=True)
        if isinstance(sex, str) and sex.strip().lower() in _SEXES
    }


def build_crema_d_manifest(
    root: str | Path, *, probe: bool = True, on_error: OnError = "raise"
) -> pd.DataFrame:
    """Manifest of CREMA-D: ``label`` ang/dis/fea/hap/neu/sad, speaker the actor id.

    Gender comes from ``VideoDemographics.csv`` when it sits in `root`; extra columns
    ``sentence`` (DFA) and ``intensity`` (LO/MD/HI/XX).
    """
    root = require_dir(root, CORPUS, EXPECTED)
    demographics = root / "VideoDemographics.csv"
    genders = read_demographics(demographics) if demographics.is_file() else {}
    records = []
    for path in list_files(root / "AudioWAV", "*.wav"):
        m = match_name(_FILE_RE, path, CORPUS, "1001_DFA_ANG_XX.wav")
        actor, sentence, emotion, level = m.groups()
        records.append(
            {
                "utt_id": path.stem,
                "path": str(path),
                "speaker": actor,
                "gender": genders.get(actor),
                "label": emotion.lower(),
                "sentence": sentence,
                "intensity": level,
            }
        )
    return finish_manifest(
        records,
        corpus=CORPUS,
        root=root,
        expected=EXPECTED,
        probe=probe,
        on_error=on_error,
        extra_columns=("sentence", "intensity"),
    )
