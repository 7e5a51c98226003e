"""Helpers shared by the corpus builders: layout errors, file listing, header probing."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from raysim.data.manifest import OnError, make_manifest, validate_manifest

# Emotion labels use one vocabulary across corpora so SER code can pool them.
EMOTION_NAMES: dict[str, str] = {
    "neu": "neutral",
    "hap": "happiness",
    "exc": "excitement",
    "sad": "sadness",
    "ang": "anger",
    "fea": "fear",
    "dis": "disgust",
    "sur": "surprise",
    "cal": "calm",
    "bor": "boredom",
    "fru": "frustration",
    "oth": "other",
    "xxx": "no agreement",
}
FOUR_CLASSES: tuple[str, ...] = ("neu", "hap", "sad", "ang")


class CorpusLayoutError(FileNotFoundError):
    """A corpus root that does not have the corpus's published layout or file naming."""


class SkippedFilesWarning(UserWarning):
    """Some files of a corpus were unreadable and left out of its manifest."""


def layout_error(corpus: str, root: Path, expected: str) -> CorpusLayoutError:
    """An error naming the corpus, the root looked at and what was expected there."""
    return CorpusLayoutError(f"{corpus}: expected {expected} under {root}")


def require_dir(root: str | Path, corpus: str, expected: str) -> Path:
    """`root` as an absolute path; raises CorpusLayoutError if it is not a directory."""
    path = Path(root).expanduser().resolve()
    if not path.is_dir():
        raise CorpusLayoutError(f"{corpus}: root {path} is not a directory (expected {expected})")
    return path


def list_files(folder: Path, pattern: str) -> list[Path]:
    """Sorted files matching a glob pattern, without macOS '._' resource-fork files."""
    return sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("._"))


def match_name(regex: re.Pattern[str], path: Path, corpus: str, expected: str) -> re.Match[str]:
    """Match a file name against the corpus naming; raises CorpusLayoutError naming the file."""
    m = regex.match(path.name)
    if m is None:
        raise CorpusLayoutError(f"{corpus}: file {path} does not follow the naming {expected}")
    return m


def finish_manifest(
    records: list[dict],
    *,
    corpus: str,
    root: Path,
    expected: str,
    probe: bool,
    on_error: OnError,
    extra_columns: Iterable[str] = (),
) -> pd.DataFrame:
    """Records → validated manifest sorted by utt_id; header-probed when `probe`.

    Unreadable files raise with ``on_error="raise"``; with ``"skip"`` they are dropped and
    a :class:`SkippedFilesWarning` names how many and the first one (for the full table
    build with ``probe=False`` and call ``validate_manifest(df, check_audio=True,
    on_error="skip")``).
    """
    if not records:
        raise layout_error(corpus, root, expected)
    df = make_manifest(records, tuple(extra_columns)).sort_values("utt_id", kind="stable")
    manifest, skipped = validate_manifest(df, check_audio=probe, on_error=on_error)
    if len(skipped):
        first = skipped.iloc[0]
        warnings.warn(
            SkippedFilesWarning(
                f"{corpus}: skipped {len(skipped)} unreadable file(s) under {root}, "
                f"first {first['path']}: {first['reason']}"
            ),
            stacklevel=3,
        )
    return manifest


_GENDERS = {"m": "M", "male": "M", "man": "M", "f": "F", "female": "F", "woman": "F"}


def normalise_gender(value: object) -> str | None:
    """'M', 'F' or None from the usual spellings (m/male/man, f/female/woman, any case).

    Raises ValueError naming the value for anything else.
    """
    if value is None or (isinstance(value, float) and value != value) or str(value) == "":
        return None
    gender = _GENDERS.get(str(value).strip().lower())
    if gender is None:
        raise ValueError(f"gender {value!r} is not one of M/F, male/female")
    return gender
