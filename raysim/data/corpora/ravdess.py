"""RAVDESS: ``Actor_01/03-01-05-01-02-01-01.wav`` (modality-channel-emotion-intensity-
statement-repetition-actor)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import pandas as pd

from raysim.data.corpora._common import (
    CorpusLayoutError,
    finish_manifest,
    list_files,
    match_name,
    require_dir,
)
from raysim.data.manifest import OnError

CORPUS = "RAVDESS"
EXPECTED = "Actor_NN/ folders with MM-VV-EE-II-SS-RR-AA.wav files"
_FILE_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.wav$")
LABELS = {
    "01": "neu",
    "02": "cal",
    "03": "hap",
    "04": "sad",
    "05": "ang",
    "06": "fea",
    "07": "dis",
    "08": "sur",
}
CHANNELS = {"01": "speech", "02": "song"}
INTENSITIES = {"01": "normal", "02": "strong"}


def build_ravdess_manifest(
    root: str | Path,
    *,
    channel: Literal["speech", "song"] | None = None,
    probe: bool = True,
    on_error: OnError = "raise",
) -> pd.DataFrame:
    """Manifest of RAVDESS audio; `channel` keeps speech or song only (default both).

    ``speaker`` is the actor number ("01"), odd actors male; extra columns
    ``vocal_channel``, ``intensity``, ``statement``, ``repetition``.
    """
    if channel not in (None, "speech", "song"):
        raise ValueError(f"channel must be 'speech', 'song' or None, got {channel!r}")
    root = require_dir(root, CORPUS, EXPECTED)
    records = []
    for path in list_files(root, "Actor_*/*.wav"):
        m = match_name(_FILE_RE, path, CORPUS, "MM-VV-EE-II-SS-RR-AA.wav")
        _, vocal, emotion, intensity, statement, repetition, actor = m.groups()
        if path.parent.name != f"Actor_{actor}":
            raise CorpusLayoutError(f"{CORPUS}: file {path} names actor {actor}, not its folder")
        if emotion not in LABELS or vocal not in CHANNELS or intensity not in INTENSITIES:
            raise CorpusLayoutError(f"{CORPUS}: file {path} has an unknown code")
        if channel is not None and CHANNELS[vocal] != channel:
            continue
        records.append(
            {
                "utt_id": path.stem,
                "path": str(path),
                "speaker": actor,
                "gender": "M" if int(actor) % 2 else "F",
                "label": LABELS[emotion],
                "vocal_channel": CHANNELS[vocal],
                "intensity": INTENSITIES[intensity],
                "statement": int(statement),
                "repetition": int(repetition),
            }
        )
    return finish_manifest(
        records,
        corpus=CORPUS,
        root=root,
        expected=EXPECTED,
        probe=probe,
        on_error=on_error,
        extra_columns=("vocal_channel", "intensity", "statement", "repetition"),
    )
