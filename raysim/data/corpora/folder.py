"""Any corpus in a folder: a path pattern with named fields says where each column is.

A pattern is the path of a file relative to the root, with ``{name}`` for each field:

``{label}/{speaker}_{utt}.wav``
    the label from the sub-folder, the speaker from the file name;
``{word}/{speaker}-{gender}-{age}-{word}-{label}-{take}.wav``
    a field may appear twice (both places must then hold the same value);
``{noise_class}/{_}.wav``
    a noise set; ``{_}`` matches anything and is not kept.

A field matches one or more characters within one path component (never ``/``), and
the shortest match wins, so ``{speaker}-{take}`` splits ``a-b-c`` as ``a`` / ``b-c``.
Fields named like manifest columns (``utt_id``, ``speaker``, ``gender``, ``label``,
``split``, ``noise_class``) fill them; any other field becomes an extra column of
strings. ``gender`` accepts M/F, male/female (any case). Without a ``label``, a
``noise_class`` is also the label; without an ``utt_id``, the relative path without its
suffix is (``Angry/SM1_F1_A001``).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from raysim.data.corpora._common import (
    CorpusLayoutError,
    SkippedFilesWarning,
    finish_manifest,
    normalise_gender,
    require_dir,
)
from raysim.data.manifest import (
    REQUIRED_COLUMNS,
    SKIPPED_COLUMNS,
    ManifestCheck,
    ManifestError,
    OnError,
)

CORPUS = "folder"
#: the files a pattern without a literal suffix (``{label}/{name}``) looks at
AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3")
#: fields the pattern may not set: the builder fills them
RESERVED_FIELDS = frozenset({"path", "duration", "sample_rate"})
_FIELD_RE = re.compile(r"\{([^{}]*)\}")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PatternError(ManifestError):
    """A path pattern that cannot be used (bad field name, reserved field, no field)."""


@dataclass(frozen=True)
class PathPattern:
    """A compiled path pattern: :meth:`match` a relative path into its fields."""

    text: str
    fields: tuple[str, ...]
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, text: str) -> PathPattern:
        """Parse `text`; raises :class:`PatternError` naming the problem."""
        text = text.strip().lstrip("/")
        if not text:
            raise PatternError("the path pattern is empty")
        parts: list[str] = []
        fields: list[str] = []
        pos = 0
        for m in _FIELD_RE.finditer(text):
            parts.append(re.escape(text[pos : m.start()]))
            name = m.group(1)
            if name == "_":
                parts.append(r"[^/]+?")
            elif not _NAME_RE.match(name):
                raise PatternError(f"pattern {text!r}: bad field name {{{name}}}")
            elif name in RESERVED_FIELDS:
                raise PatternError(f"pattern {text!r}: {{{name}}} is filled by the builder")
            elif name in fields:
                parts.append(f"(?P={name})")
            else:
                fields.append(name)
                parts.append(f"(?P<{name}>[^/]+?)")
            pos = m.end()
        rest = text[pos:]
        if "{" in rest or "}" in rest or any("{" in p or "}" in p for p in parts):
            raise PatternError(f"pattern {text!r}: unbalanced braces")
        parts.append(re.escape(rest))
        if not fields:
            raise PatternError(f"pattern {text!r} has no {{field}}")
        return cls(text, tuple(fields), re.compile("".join(parts)))

    @property
    def suffix(self) -> str | None:
        """The literal file suffix the pattern ends with (``.wav``), if any."""
        tail = self.text.rsplit("/", 1)[-1].rsplit("}", 1)[-1]
        return "." + tail.rsplit(".", 1)[1].lower() if "." in tail else None

    def match(self, relative: str) -> dict[str, str] | None:
        """The fields of `relative` (a POSIX path under the root), or None if it does not match."""
        m = self.regex.fullmatch(relative)
        return None if m is None else m.groupdict()


def candidate_files(root: Path, pattern: PathPattern) -> list[Path]:
    """Sorted files under `root` the pattern is about: those with its suffix (or any audio
    suffix when it has none), macOS ``._`` files and hidden folders left out."""
    suffixes = (pattern.suffix,) if pattern.suffix else AUDIO_SUFFIXES
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.lower().endswith(suffixes) and not name.startswith("._"):
                found.append(Path(folder) / name)
    return sorted(found)


def record_from_fields(fields: dict[str, str], path: Path, relative: str) -> dict:
    """One manifest row from a matched path's fields (see the module docstring)."""
    record: dict = {k: v for k, v in fields.items() if k != "gender"}
    if "gender" in fields:
        try:
            record["gender"] = normalise_gender(fields["gender"])
        except ValueError as err:
            raise CorpusLayoutError(f"{CORPUS}: {path}: {err}") from None
    if "label" not in record and "noise_class" in record:
        record["label"] = record["noise_class"]
    record.setdefault("utt_id", os.path.splitext(relative)[0])
    record["path"] = str(path)
    return record


def _scan(root: Path, pattern: PathPattern, on_error: OnError) -> tuple[list[dict], list[dict]]:
    """(manifest records, skipped rows: utt_id, path, reason) of the files under `root`."""
    records: list[dict] = []
    unmatched: list[dict] = []
    for path in candidate_files(root, pattern):
        relative = path.relative_to(root).as_posix()
        fields = pattern.match(relative)
        if fields is not None:
            records.append(record_from_fields(fields, path, relative))
            continue
        reason = f"does not match the pattern {pattern.text!r}"
        if on_error == "raise":
            raise CorpusLayoutError(
                f"{CORPUS}: {relative} under {root} {reason} (--on-error skip leaves such "
                "files out)"
            )
        unmatched.append(
            {"utt_id": os.path.splitext(relative)[0], "path": str(path), "reason": reason}
        )
    return records, unmatched


def _manifest(
    root: str | Path, pattern: str, probe: bool, on_error: OnError
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(manifest, files that do not match) of `root` under `pattern`."""
    compiled = PathPattern.compile(pattern)
    expected = f"files matching {compiled.text!r}"
    folder = require_dir(root, CORPUS, expected)
    records, unmatched = _scan(folder, compiled, on_error)
    manifest = finish_manifest(
        records,
        corpus=CORPUS,
        root=folder,
        expected=expected,
        probe=probe,
        on_error=on_error,
        extra_columns=[f for f in compiled.fields if f not in REQUIRED_COLUMNS],
    )
    return manifest, pd.DataFrame(unmatched, columns=list(SKIPPED_COLUMNS))


def scan_folder(root: str | Path, pattern: str, *, on_error: OnError = "raise") -> ManifestCheck:
    """The manifest of the files under `root` matching `pattern`, headers not read, and
    (``on_error="skip"``) the files that do not match, as a skipped table (utt_id, path,
    reason); with ``"raise"`` the first such file raises :class:`CorpusLayoutError`
    naming it and the pattern."""
    return ManifestCheck(*_manifest(root, pattern, probe=False, on_error=on_error))


def build_folder_manifest(
    root: str | Path,
    pattern: str,
    *,
    probe: bool = True,
    on_error: OnError = "raise",
) -> pd.DataFrame:
    """Manifest of the files under `root` whose relative path matches `pattern`.

    A file with the pattern's suffix that does not match raises
    :class:`CorpusLayoutError` naming it and the pattern (``on_error="raise"``), or is
    left out and counted in a :class:`SkippedFilesWarning` (``"skip"``), as unreadable
    files are when `probe`. Fields that are not manifest columns become extra columns.
    """
    manifest, unmatched = _manifest(root, pattern, probe=probe, on_error=on_error)
    if len(unmatched):
        warnings.warn(
            SkippedFilesWarning(
                f"{CORPUS}: skipped {len(unmatched)} file(s) under {root} that do not match "
                f"the pattern {pattern!r}, first {unmatched.at[0, 'path']}"
            ),
            stacklevel=2,
        )
    return manifest
