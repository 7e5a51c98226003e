"""One-line accounts of what loading does to a set of files: resampling and down-mixing.

The loader (:func:`raysim.audio.io.read_audio`) converts every file to mono at the rate
its caller asks for; these lines say how many files that changes, so a corpus of 8 kHz
or stereo files is never converted without a word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from raysim.audio.io import read_header


class FormatCounts(Counter):
    """How many files of each (sample rate, channel count): ``{(8000, 1): 12, ...}``."""

    @classmethod
    def of(cls, formats: Iterable[tuple[int, int]]) -> FormatCounts:
        """Counts of (sample rate, channels) pairs."""
        return cls((int(sr), int(ch)) for sr, ch in formats)

    @classmethod
    def probe(cls, paths: Iterable[str]) -> FormatCounts:
        """Counts from the files' headers (no decoding; faults raise AudioError)."""
        headers = (read_header(p) for p in paths)
        return cls.of((h.sample_rate, h.channels) for h in headers)

    def to_json(self) -> dict[str, int]:
        """``{"8000x1": 12, ...}``: JSON-ready (e.g. for Parquet metadata)."""
        return {f"{sr}x{ch}": n for (sr, ch), n in sorted(self.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> FormatCounts:
        """Inverse of :meth:`to_json`."""
        out = cls()
        for key, n in data.items():
            sr, ch = key.split("x")
            out[int(sr), int(ch)] += int(n)
        return out


def _files(n: int) -> str:
    return f"{n} file{'' if n == 1 else 's'}"


def _channels(n: int) -> str:
    return "stereo" if n == 2 else f"{n} channels"


def _downmix(counts: FormatCounts) -> str:
    """``K down-mixed from stereo`` (or from each channel count when they differ)."""
    by_channels = Counter()
    for (_, ch), n in counts.items():
        if ch > 1:
            by_channels[ch] += n
    total = sum(by_channels.values())
    if len(by_channels) <= 1:
        return f"{total} down-mixed from {_channels(next(iter(by_channels), 2))}"
    parts = ", ".join(f"{n} from {_channels(ch)}" for ch, n in sorted(by_channels.items()))
    return f"{total} down-mixed to mono ({parts})"


def conversion_summary(counts: FormatCounts, target_rate: int | None, *, done: bool = False) -> str:
    """E.g. ``"3 of 10 files will be resampled from 8000 Hz to 16000 Hz, 1 down-mixed
    from stereo"`` (``were`` when `done`); several source rates are listed with their
    counts. With no `target_rate` (files kept at their own rates), the rates found."""
    total = sum(counts.values())
    verb = "were" if done else "will be"
    by_rate = Counter()
    for (sr, _), n in counts.items():
        by_rate[sr] += n
    if target_rate is None:
        rates = ", ".join(f"{sr} Hz ({_files(n)})" for sr, n in sorted(by_rate.items()))
        return f"{_files(total)} kept at their own rates: {rates or 'none'}; {_downmix(counts)}"
    moved = {sr: n for sr, n in sorted(by_rate.items()) if sr != target_rate}
    n_moved = sum(moved.values())
    if len(moved) == 1:
        resampled = f"resampled from {next(iter(moved))} Hz to {target_rate} Hz"
    elif moved:
        froms = ", ".join(f"{n} from {sr} Hz" for sr, n in moved.items())
        resampled = f"resampled to {target_rate} Hz ({froms})"
    else:
        resampled = f"resampled to {target_rate} Hz"
    return f"{n_moved} of {_files(total)} {verb} {resampled}, {_downmix(counts)}"


def header_summary(counts: FormatCounts) -> str:
    """What a manifest's files hold, for when the rate they will be read at is not known:
    ``"10 files: 8000 Hz (3), 16000 Hz (7); 1 stereo (down-mixed to mono when read)"``."""
    by_rate, multi = Counter(), Counter()
    for (sr, ch), n in counts.items():
        by_rate[sr] += n
        if ch > 1:
            multi[ch] += n
    rates = ", ".join(f"{sr} Hz ({n})" for sr, n in sorted(by_rate.items()))
    line = f"{_files(sum(counts.values()))}: {rates or 'none'}"
    if multi:
        kinds = ", ".join(
            f"{n} {'stereo' if ch == 2 else f'with {ch} channels'}"
            for ch, n in sorted(multi.items())
        )
        line += f"; {kinds} (down-mixed to mono when read)"
    else:
        line += "; all mono"
    return line
