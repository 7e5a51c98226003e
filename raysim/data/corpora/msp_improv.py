"""MSP-IMPROV: ``Audio/session{n}/{scenario}/{S|R|T|P}/MSP-IMPROV-S01A-F01-S-FM01.wav``,
labels from ``Evalution.txt`` (the release's spelling) when present."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from raysim.data.corpora._common import (
    FOUR_CLASSES,
    CorpusLayoutError,
    finish_manifest,
    list_files,
    match_name,
    require_dir,
)
from raysim.data.manifest import OnError

CORPUS = "MSP-IMPROV"
EXPECTED = "Audio/session{n}/{scenario}/{S,R,T,P}/MSP-IMPROV-S01A-F01-S-FM01.wav"
# S01A: scenario sentence 01, target emotion A; F01: talker; S: recording condition.
_FILE_RE = re.compile(r"^MSP-IMPROV-(S\d{2})([AHSN])-([FM]\d{2})-([SRTP])-([A-Z0-9]+)\.wav$")
_EVAL_RE = re.compile(r"^UTD-IMPROV-([A-Z0-9-]+)\.avi;\s*([A-Z]);(.*)$")
_ATTR_RE = re.compile(r"\b([AVDN]):\s*([0-9.]+|NaN)")
EVALUATION_FILES = ("Evalution.txt", "Evaluation.txt")
LABELS = {"A": "ang", "H": "hap", "S": "sad", "N": "neu", "O": "oth", "X": "xxx"}
CONDITIONS = {"S": "target", "R": "read", "T": "improvised", "P": "natural"}
_ATTR_COLUMNS = {"A": "arousal", "V": "valence", "D": "dominance", "N": "naturalness"}


def read_evaluation(path: Path) -> dict[str, dict]:
    """``S01A-F01-S-FM01`` → {label, arousal, valence, dominance, naturalness} (consensus)."""
    out = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _EVAL_RE.match(line.strip())
        if m is None:
            continue  # per-rater lines and blanks
        key, letter, rest = m.groups()
        entry = {"label": LABELS.get(letter, letter.lower())}
        for name, value in _ATTR_RE.findall(rest):
            entry[_ATTR_COLUMNS[name]] = float(value)
        out[key] = entry
    return out


def build_msp_improv_manifest(
    root: str | Path,
    *,
    four_class: bool = False,
    probe: bool = True,
    on_error: OnError = "raise",
) -> pd.DataFrame:
    """Manifest of MSP-IMPROV (`root` holds ``Audio/`` and, optionally, ``Evalution.txt``).

    ``label``: the consensus label from the evaluation file (ang/hap/sad/neu/oth/xxx), or
    the scenario's target emotion from the file name when the file has no entry there
    (column ``label_source`` says which). ``speaker`` is the F01/M01 token, ``split`` the
    session number. `four_class` keeps only ang/hap/sad/neu. Extra columns ``session``,
    ``scenario``, ``condition`` (target/read/improvised/natural), ``target_emotion`` and
    the dimensional ratings where the evaluation file gives them.
    """
    root = require_dir(root, CORPUS, EXPECTED)
    if not (root / "Audio").is_dir():
        raise CorpusLayoutError(f"{CORPUS}: expected {EXPECTED} under {root}")
    eval_path = next((root / n for n in EVALUATION_FILES if (root / n).is_file()), None)
    evaluation = read_evaluation(eval_path) if eval_path else {}
    records = []
    for path in list_files(root / "Audio", "session*/*/*/*.wav"):
        m = match_name(_FILE_RE, path, CORPUS, "MSP-IMPROV-S01A-F01-S-FM01.wav")
        _, target, speaker, condition, _ = m.groups()
        session = path.parents[2].name
        if not re.fullmatch(r"session\d+", session) or path.parent.name != condition:
            raise CorpusLayoutError(
                f"{CORPUS}: file {path} is not in session{{n}}/{{scenario}}/{condition}/"
            )
        entry = evaluation.get(path.stem.removeprefix("MSP-IMPROV-"), {})
        label = entry.get("label", LABELS[target])
        if four_class and label not in FOUR_CLASSES:
            continue
        records.append(
            {
                "utt_id": path.stem,
                "path": str(path),
                "speaker": speaker,
                "gender": speaker[0],
                "label": label,
                "split": session.removeprefix("session"),
                "session": int(session.removeprefix("session")),
                "scenario": path.parents[1].name,
                "condition": CONDITIONS[condition],
                "target_emotion": LABELS[target],
                "label_source": "evaluation" if entry else "filename",
                **{k: entry.get(k) for k in _ATTR_COLUMNS.values()},
            }
        )
    return finish_manifest(
        records,
        corpus=CORPUS,
        root=root,
        expected=EXPECTED,
        probe=probe,
        on_error=on_error,
        extra_columns=(
            "session",
            "scenario",
            "condition",
            "target_emotion",
            "label_source",
            *_ATTR_COLUMNS.values(),
        ),
    )
