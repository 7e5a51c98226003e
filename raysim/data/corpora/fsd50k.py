"""FSD50K: ``FSD50K.{dev,eval}_audio/{fname}.wav`` + ``FSD50K.ground_truth/{dev,eval}.csv``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from raysim.data.corpora._common import CorpusLayoutError, finish_manifest, require_dir
from raysim.data.manifest import OnError

CORPUS = "FSD50K"
EXPECTED = "FSD50K.dev_audio/, FSD50K.eval_audio/ and FSD50K.ground_truth/{dev,eval}.csv"

# AudioSet "Human voice" and speech-like classes removed to make LibriFSD50K's noise pool
# (FedEnhance, Tzinis et al. 2021): a clip carrying any of them is not used as noise.
SPEECH_LIKE_LABELS: frozenset[str] = frozenset(
    {
        "Speech",
        "Male_speech_and_man_speaking",
        "Female_speech_and_woman_speaking",
        "Child_speech_and_kid_speaking",
        "Conversation",
        "Speech_synthesizer",
        "Singing",
        "Male_singing",
        "Female_singing",
        "Child_singing",
        "Choir",
        "Yodeling",
        "Chant",
        "Humming",
        "Whispering",
        "Laughter",
        "Giggle",
        "Chuckle_and_chortle",
        "Crying_and_sobbing",
        "Baby_cry_and_infant_cry",
        "Screaming",
        "Shout",
        "Yell",
        "Children_shouting",
        "Cough",
        "Sneeze",
        "Sigh",
        "Burping_and_eructation",
    }
)
assert len(SPEECH_LIKE_LABELS) == 28, "FedEnhance removes exactly 28 speech-like labels"

_SPLITS = {"train": "train", "val": "dev"}


def _read_ground_truth(csv: Path) -> pd.DataFrame:
    if not csv.is_file():
        raise CorpusLayoutError(f"{CORPUS}: ground-truth file {csv} not found")
    table = pd.read_csv(csv, dtype={"fname": str, "labels": str, "mids": str})
    missing = {"fname", "labels"} - set(table.columns)
    if missing:
        raise CorpusLayoutError(f"{CORPUS}: {csv} lacks column(s) {', '.join(sorted(missing))}")
    return table


def build_fsd50k_manifest(
    root: str | Path,
    *,
    subsets: Sequence[str] = ("dev", "eval"),
    exclude_labels: Iterable[str] = SPEECH_LIKE_LABELS,
    probe: bool = True,
    on_error: OnError = "raise",
) -> pd.DataFrame:
    """Manifest of FSD50K clips, without clips carrying any label in `exclude_labels`.

    ``label``/``noise_class`` is the first listed label (FSD50K lists the most specific
    class first), ``labels`` keeps the full comma-separated list. ``split``: dev.csv's
    train/val → train/dev, eval → test. Pass ``exclude_labels=()`` to keep every clip.
    """
    root = require_dir(root, CORPUS, EXPECTED)
    excluded = frozenset(exclude_labels)
    records = []
    for subset in subsets:
        if subset not in ("dev", "eval"):
            raise ValueError(f"{CORPUS}: subsets must be 'dev' and/or 'eval', got {subset!r}")
        audio_dir = root / f"FSD50K.{subset}_audio"
        if not audio_dir.is_dir():
            raise CorpusLayoutError(f"{CORPUS}: audio folder {audio_dir} not found")
        table = _read_ground_truth(root / "FSD50K.ground_truth" / f"{subset}.csv")
        for row in table.itertuples(index=False):
            labels = str(row.labels).split(",")
            if excluded.intersection(labels):
                continue
            split = "test" if subset == "eval" else _SPLITS.get(getattr(row, "split", None))
            records.append(
                {
                    "utt_id": f"{subset}/{row.fname}",
                    "path": str(audio_dir / f"{row.fname}.wav"),
                    "label": labels[0],
                    "split": split,
                    "noise_class": labels[0],
                    "labels": row.labels,
                }
            )
    return finish_manifest(
        records,
        corpus=CORPUS,
        root=root,
        expected=EXPECTED,
        probe=probe,
        on_error=on_error,
        extra_columns=("noise_class", "labels"),
    )
