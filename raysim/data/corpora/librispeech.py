"""LibriSpeech: ``{subset}/{speaker}/{chapter}/{speaker}-{chapter}-{utt}.flac`` + SPEAKERS.TXT."""

from __future__ import annotations

import re
from collections.abc import Sequence
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

CORPUS = "LibriSpeech"
EXPECTED = "subset folders such as train-clean-100/{speaker}/{chapter}/*.flac and SPEAKERS.TXT"
_SUBSET_RE = re.compile(r"^(train|dev|test)-[a-z]+(-\d+)?$")
_FILE_RE = re.compile(r"^(\d+)-(\d+)-(\d+)\.flac$")


def read_speakers_txt(path: Path) -> dict[str, str]:
    """Speaker id → 'M'/'F' from SPEAKERS.TXT (``ID | SEX | SUBSET | MINUTES | NAME``)."""
    genders: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) < 2 or fields[1] not in ("M", "F"):
            raise CorpusLayoutError(f"{CORPUS}: {path}: cannot parse speaker line {line!r}")
        genders[fields[0]] = fields[1]
    return genders


def build_librispeech_manifest(
    root: str | Path,
    *,
    subsets: Sequence[str] | None = None,
    probe: bool = True,
    on_error: OnError = "raise",
) -> pd.DataFrame:
    """Manifest of a LibriSpeech root (the folder holding SPEAKERS.TXT and the subsets).

    `subsets` picks folders such as ``("train-clean-100", "dev-clean")`` (default: all
    present). ``split`` is train/dev/test from the subset name, kept in column ``subset``;
    ``chapter`` is an extra column; gender comes from SPEAKERS.TXT when present.
    """
    root = require_dir(root, CORPUS, EXPECTED)
    if subsets is None:
        subset_dirs = sorted(p for p in root.iterdir() if p.is_dir() and _SUBSET_RE.match(p.name))
    else:
        subset_dirs = [root / s for s in subsets]
        for d in subset_dirs:
            if not d.is_dir():
                raise CorpusLayoutError(f"{CORPUS}: subset folder {d} not found under {root}")
    speakers_txt = root / "SPEAKERS.TXT"
    genders = read_speakers_txt(speakers_txt) if speakers_txt.is_file() else {}
    records = []
    for subset_dir in subset_dirs:
        for path in list_files(subset_dir, "*/*/*.flac"):
            m = match_name(_FILE_RE, path, CORPUS, "{speaker}-{chapter}-{utt}.flac")
            speaker, chapter = m.group(1), m.group(2)
            if (path.parent.parent.name, path.parent.name) != (speaker, chapter):
                raise CorpusLayoutError(
                    f"{CORPUS}: file {path} is not in folder {speaker}/{chapter}/"
                )
            records.append(
                {
                    "utt_id": path.stem,
                    "path": str(path),
                    "speaker": speaker,
                    "gender": genders.get(speaker),
                    "split": subset_dir.name.split("-")[0],
                    "subset": subset_dir.name,
                    "chapter": chapter,
                }
            )
    return finish_manifest(
        records,
        corpus=CORPUS,
        root=root,
        expected=EXPECTED,
        probe=probe,
        on_error=on_error,
        extra_columns=("subset", "chapter"),
    )
