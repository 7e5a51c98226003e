"""IEMOCAP: ``Session{n}/sentences/wav/{dialog}/{utt}.wav`` labelled by
``Session{n}/dialog/EmoEvaluation/{dialog}.txt``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

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

CORPUS = "IEMOCAP"
EXPECTED = "Session{1..5}/sentences/wav/{dialog}/*.wav and Session{n}/dialog/EmoEvaluation/"
# Ses01F_impro01_M003: the session's recording, then the talker's gender before the index.
_UTT_RE = re.compile(r"^Ses(\d{2})[FM]_.+_([FM])\d+\.wav$")
_LABEL_RE = re.compile(r"^\[[^\]]+\]\t(\S+)\t(\S+)\t\[([^,\]]+),([^,\]]+),([^,\]]+)\]")
# Semi-FedSER's 4 classes: excited is merged into happy.
FOUR_CLASS_MAP = {"neu": "neu", "hap": "hap", "exc": "hap", "sad": "sad", "ang": "ang"}
assert set(FOUR_CLASS_MAP.values()) == set(FOUR_CLASSES)


def read_emo_evaluation(path: Path) -> dict[str, tuple[str, float, float, float]]:
    """Utterance id → (emotion code, valence, arousal, dominance) from one EmoEvaluation file.

    Only the summary lines ``[start - end]\\tUTT_ID\\temo\\t[V, A, D]`` are read; the
    per-annotator lines below each of them are ignored.
    """
    labels = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _LABEL_RE.match(line)
        if m:
            utt, emotion, v, a, d = m.groups()
            labels[utt] = (emotion, float(v), float(a), float(d))
    return labels


def _mode(dialog: str, path: Path) -> str:
    if "impro" in dialog:
        return "improvised"
    if "script" in dialog:
        return "scripted"
    raise CorpusLayoutError(f"{CORPUS}: dialog folder of {path} names neither impro nor script")


def build_iemocap_manifest(
    root: str | Path,
    *,
    sessions: Sequence[int] | None = None,
    mode: Literal["all", "improvised", "scripted"] = "all",
    four_class: bool = False,
    probe: bool = True,
    on_error: OnError = "raise",
) -> pd.DataFrame:
    """Manifest of IEMOCAP (the folder holding Session1 … Session5).

    ``speaker`` is session + talker gender (Ses01F_impro01_M003 → Ses01M); ``split`` is
    the session number ("1"–"5", the usual speaker-independent folds). ``label`` is the
    consensus code (neu, hap, exc, sad, ang, fru, …; null without an EmoEvaluation line);
    with `four_class` only neu, hap + exc → hap, sad, ang are kept. Extra columns:
    ``session``, ``mode`` (improvised/scripted), ``dialog``, ``raw_label``, ``valence``,
    ``arousal``, ``dominance``.
    """
    if mode not in ("all", "improvised", "scripted"):
        raise ValueError(f"mode must be 'all', 'improvised' or 'scripted', got {mode!r}")
    root = require_dir(root, CORPUS, EXPECTED)
    if sessions is None:
        sessions = sorted(
            int(p.name[7:]) for p in root.glob("Session*") if re.fullmatch(r"Session\d", p.name)
        )
    records = []
    for n in sessions:
        session_dir = root / f"Session{n}"
        wav_dir = session_dir / "sentences" / "wav"
        if not wav_dir.is_dir():
            raise CorpusLayoutError(f"{CORPUS}: folder {wav_dir} not found under {root}")
        eval_dir = session_dir / "dialog" / "EmoEvaluation"
        for dialog_dir in sorted(p for p in wav_dir.iterdir() if p.is_dir()):
            eval_file = eval_dir / f"{dialog_dir.name}.txt"
            labels = read_emo_evaluation(eval_file) if eval_file.is_file() else {}
            for path in list_files(dialog_dir, "*.wav"):
                m = match_name(_UTT_RE, path, CORPUS, "Ses01F_impro01_M003.wav")
                dialog_mode = _mode(dialog_dir.name, path)
                if mode != "all" and dialog_mode != mode:
                    continue
                raw, v, a, d = labels.get(path.stem, (None, None, None, None))
                label = FOUR_CLASS_MAP.get(raw) if four_class else raw
                if four_class and label is None:
                    continue
                records.append(
                    {
                        "utt_id": path.stem,
                        "path": str(path),
                        "speaker": f"Ses{m.group(1)}{m.group(2)}",
                        "gender": m.group(2),
                        "label": label,
                        "split": str(n),
                        "session": n,
                        "mode": dialog_mode,
                        "dialog": dialog_dir.name,
                        "raw_label": raw,
                        "valence": v,
                        "arousal": a,
                        "dominance": d,
                    }
                )
    return finish_manifest(
        records,
        corpus=CORPUS,
        root=root,
        expected=EXPECTED,
        probe=probe,
        on_error=on_error,
        extra_columns=("session", "mode", "dialog", "raw_label", "valence", "arousal", "dominance"),
    )
