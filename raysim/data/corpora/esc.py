"""ESC-50 (``audio/{fold}-{id}-{take}-{target}.wav`` + ``meta/esc50.csv``) and ESC-10."""

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

EXPECTED_50 = "audio/{fold}-{id}-{take}-{target}.wav and meta/esc50.csv"
EXPECTED_10 = "meta/esc50.csv (ESC-50 layout) or 'NNN - Class/{fold}-{id}-{take}.ogg' folders"
_ESC50_FILE_RE = re.compile(r"^(\d)-(\d+)-([A-Z])-(\d+)\.wav$")
_ESC10_DIR_RE = re.compile(r"^(\d{3}) - (.+)$")
_ESC10_FILE_RE = re.compile(r"^(\d)-(\d+)-([A-Z])\.ogg$")
_META_COLUMNS = {"filename", "fold", "target", "category", "esc10"}

# Original ESC-10 folder names → ESC-50 category names, so both layouts share labels.
ESC10_CATEGORIES = {
    "Dog bark": "dog",
    "Rain": "rain",
    "Sea waves": "sea_waves",
    "Baby cry": "crying_baby",
    "Clock tick": "clock_tick",
    "Person sneeze": "sneezing",
    "Helicopter": "helicopter",
    "Chainsaw": "chainsaw",
    "Rooster": "rooster",
    "Fire crackling": "crackling_fire",
}


def build_esc50_manifest(
    root: str | Path,
    *,
    esc10_only: bool = False,
    probe: bool = True,
    on_error: OnError = "raise",
) -> pd.DataFrame:
    """Manifest of ESC-50 from ``meta/esc50.csv``; `esc10_only` keeps the ESC-10 subset.

    ``label``/``noise_class`` is the category (``dog``), ``split`` the fold ("1"–"5");
    extra columns ``target``, ``src_file``, ``take``, ``esc10``.
    """
    root = require_dir(root, "ESC-50", EXPECTED_50)
    meta_path = root / "meta" / "esc50.csv"
    if not meta_path.is_file() or not (root / "audio").is_dir():
        raise CorpusLayoutError(f"ESC-50: expected {EXPECTED_50} under {root}")
    meta = pd.read_csv(meta_path, dtype={"filename": str, "category": str})
    missing = _META_COLUMNS - set(meta.columns)
    if missing:
        raise CorpusLayoutError(f"ESC-50: {meta_path} lacks column(s) {', '.join(sorted(missing))}")
    esc10 = meta["esc10"].astype(str).str.lower() == "true"
    if esc10_only:
        meta, esc10 = meta[esc10], esc10[esc10]
    records = []
    for row, is_esc10 in zip(meta.itertuples(index=False), esc10, strict=True):
        path = root / "audio" / row.filename
        m = match_name(_ESC50_FILE_RE, path, "ESC-50", "{fold}-{id}-{take}-{target}.wav")
        records.append(
            {
                "utt_id": path.stem,
                "path": str(path),
                "label": row.category,
                "split": str(row.fold),
                "noise_class": row.category,
                "target": int(row.target),
                "src_file": m.group(2),
                "take": m.group(3),
                "esc10": bool(is_esc10),
            }
        )
    return finish_manifest(
        records,
        corpus="ESC-50",
        root=root,
        expected=EXPECTED_50,
        probe=probe,
        on_error=on_error,
        extra_columns=("noise_class", "target", "src_file", "take", "esc10"),
    )


def build_esc10_manifest(
    root: str | Path, *, probe: bool = True, on_error: OnError = "raise"
) -> pd.DataFrame:
    """Manifest of ESC-10 from either the ESC-50 release or the original ESC-10 layout.

    Original layout: ``NNN - Class/{fold}-{freesound id}-{take}.ogg``. Labels use the
    ESC-50 category names in both cases (``Dog bark`` → ``dog``); ``split`` is the fold.
    """
    root = require_dir(root, "ESC-10", EXPECTED_10)
    if (root / "meta" / "esc50.csv").is_file():
        return build_esc50_manifest(root, esc10_only=True, probe=probe, on_error=on_error)
    records = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        d = _ESC10_DIR_RE.match(class_dir.name)
        if d is None:
            continue
        name = d.group(2)
        category = ESC10_CATEGORIES.get(name, name.lower().replace(" ", "_"))
        for path in list_files(class_dir, "*.ogg"):
            m = match_name(_ESC10_FILE_RE, path, "ESC-10", "{fold}-{freesound id}-{take}.ogg")
            records.append(
                {
                    "utt_id": f"{category}/{path.stem}",
                    "path": str(path),
                    "label": category,
                    "split": m.group(1),
                    "noise_class": category,
                    "src_file": m.group(2),
                    "take": m.group(3),
                    "class_name": name,
                }
            )
    return finish_manifest(
        records,
        corpus="ESC-10",
        root=root,
        expected=EXPECTED_10,
        probe=probe,
        on_error=on_error,
        extra_columns=("noise_class", "src_file", "take", "class_name"),
    )
