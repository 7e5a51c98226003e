"""Free Spoken Digit Dataset: ``recordings/{digit}_{speaker}_{index}.wav``."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from raysim.data.corpora._common import finish_manifest, list_files, match_name, require_dir
from raysim.data.manifest import OnError

CORPUS = "FSDD"
EXPECTED = "recordings/{digit}_{speaker}_{index}.wav"
_FILE_RE = re.compile(r"^(\d)_([^_]+)_(\d+)\.wav$")
# The dataset's own convention: recordings 0-4 of every (digit, speaker) are the test set.
TEST_INDICES = range(5)
# Speakers of the published release (all male per its README); others get a null gender.
SPEAKER_GENDERS = {s: "M" for s in ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")}


def build_fsdd_manifest(
    root: str | Path, *, probe: bool = True, on_error: OnError = "raise"
) -> pd.DataFrame:
    """Manifest of FSDD: ``label`` is the digit, ``split`` test for index 0–4 else train."""
    root = require_dir(root, CORPUS, EXPECTED)
    records = []
    for path in list_files(root / "recordings", "*.wav"):
        m = match_name(_FILE_RE, path, CORPUS, "{digit}_{speaker}_{index}.wav")
        digit, speaker, index = m.group(1), m.group(2), int(m.group(3))
        records.append(
            {
                "utt_id": path.stem,
                "path": str(path),
                "speaker": speaker,
                "gender": SPEAKER_GENDERS.get(speaker),
                "label": digit,
                "split": "test" if index in TEST_INDICES else "train",
            }
        )
    return finish_manifest(
        records, corpus=CORPUS, root=root, expected=EXPECTED, probe=probe, on_error=on_error
    )
