"""Berlin EmoDB: ``wav/03a01Fa.wav`` = speaker 03, text a01, emotion F, version a."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from raysim.data.corpora._common import finish_manifest, list_files, match_name, require_dir
from raysim.data.manifest import OnError

CORPUS = "EmoDB"
EXPECTED = "wav/{speaker}{text}{emotion}{version}.wav such as wav/03a01Fa.wav"
_FILE_RE = re.compile(r"^(\d{2})([ab]\d{2})([WLEAFTN])([a-z])\.wav$")
# German emotion letters: Wut/Ärger, Langeweile, Ekel, Angst, Freude, Trauer, Neutral.
LABELS = {"W": "ang", "L": "bor", "E": "dis", "A": "fea", "F": "hap", "T": "sad", "N": "neu"}
# Speaker table from the corpus documentation (speaker id → sex).
SPEAKER_GENDERS = {
    "03": "M",
    "08": "F",
    "09": "F",
    "10": "M",
    "11": "M",
    "12": "M",
    "13": "F",
    "14": "F",
    "15": "M",
    "16": "F",
}


def build_emodb_manifest(
    root: str | Path, *, probe: bool = True, on_error: OnError = "raise"
) -> pd.DataFrame:
    """Manifest of EmoDB; extra columns ``text`` (a01) and ``version`` (a, b, …)."""
    root = require_dir(root, CORPUS, EXPECTED)
    records = []
    for path in list_files(root / "wav", "*.wav"):
        m = match_name(_FILE_RE, path, CORPUS, "03a01Fa.wav")
        speaker = m.group(1)
        records.append(
            {
                "utt_id": path.stem,
                "path": str(path),
                "speaker": speaker,
                "gender": SPEAKER_GENDERS.get(speaker),
                "label": LABELS[m.group(3)],
                "text": m.group(2),
                "version": m.group(4),
            }
        )
    return finish_manifest(
        records,
        corpus=CORPUS,
        root=root,
        expected=EXPECTED,
        probe=probe,
        on_error=on_error,
        extra_columns=("text", "version"),
    )
