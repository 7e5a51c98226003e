"""Federated speech-enhancement mixtures (LibriFSD50K recipe) from any speech and noise manifest.

:func:`build_mixture_spec` turns a speech manifest and a noise manifest into a
``MixtureSpec`` table, one row per example: which client holds it, which speech and noise
chunks (file + offset in samples at the configured rate) it mixes, the noise gain and SNR,
an extra noise clip for MixIT and a noise-only clip for PU learning. The recipe follows
FedEnhance (Tzinis et al. 2021) and PULSE (Ito & Sugiyama 2023), see METHODS.md:

* clients are contiguous groups of sorted speakers (or IID utterance shards, or any
  group partition of speakers: ``data.partition``); noise per
  client is IID, a fixed subset of classes, or Dirichlet-skewed over classes;
* per speaker, half of the (utterance, noise) pairs become mixtures and the other half's
  noise clips form that speaker's extra-noise pool (MixIT's second mixture);
* the noise-only clip comes from another file of the same class, else from a part of the
  same file that does not overlap the example's noise;
* the first ``floor(p_supervised * C)`` clients are supervised;
* test examples come from held-out speakers (or the manifests' test rows:
  ``data.held_out``) and held-out noise files, at a fixed set of SNRs; a noise class
  with a single file is split in time instead (the file's last share is test noise),
  so every class reaches the test set.

Gains are resolved while building (the chunks are decoded once), so a row is a complete
recipe: :func:`raysim.data.se_examples.load_example` rebuilds the arrays exactly and the SNR of
``speech`` against ``noise_gain * sum(noises)`` on the chunk equals ``snr_db``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from raysim.audio.cache import PROCESS_CACHE, AudioCache, chunk
from raysim.data.manifest import validate_manifest
from raysim.registry import PARTITIONERS
from raysim.rng import MixtureStream, stream

if TYPE_CHECKING:
    from raysim.data.held_out import HeldOutParams
    from raysim.data.se_sources import SEMixturesParams

#: the partitioners that split speech into clients (groups are speakers)
SPEECH_PARTITIONERS = ("group", "iid")

SPEC_COLUMNS: tuple[str, ...] = (
    "example_id",
    "split",
    "client_id",
    "supervised",
    "speaker",
    "speech_utt_id",
    "speech_path",
    "speech_offset",
    "noise_path",
    "noise_offset",
    "noise_class",
    "noise2_path",
    "noise2_offset",
    "noise2_class",
    "noise_gain",
    "snr_db",
    "extra_noise_path",
    "extra_noise_offset",
    "extra_noise_class",
    "noise_only_path",
    "noise_only_offset",
    "noise_only_class",
    "sample_rate",
    "num_samples",
    "speech_fill",
    "noise_fill",
)
_OFFSET_COLUMNS = [c for c in SPEC_COLUMNS if c.endswith("_offset")]
_SILENT = 1e-10  # mean power below this (-100 dBFS) counts as digital silence
_TRIES_PER_FILE, _FILE_TRIES = 4, 5


class MixtureError(ValueError):
    """Inputs from which the requested mixtures cannot be built."""


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64)))


def _sort_key(speaker: str) -> tuple[int, int | str]:
    """Numeric ids in numeric order (LibriSpeech 19 < 103), others alphabetically."""
    return (0, int(speaker)) if speaker.isdigit() else (1, speaker)


@dataclass
class _Chunk:
    row: int  # manifest row id of the file
    path: str
    offset: int
    cls: str | None
    wave: np.ndarray
    file_length: int

    @property
    def segment(self) -> tuple[int, int]:
        """Samples of the file this chunk covers (a looped or padded chunk covers all)."""
        n = len(self.wave)
        return (self.offset, self.offset + n) if self.file_length >= n else (0, self.file_length)

    def columns(self, prefix: str) -> dict:
        return {
            f"{prefix}_path": self.path,
            f"{prefix}_offset": self.offset,
            f"{prefix}_class": self.cls,
        }


def _columns(prefix: str, ch: _Chunk | None) -> dict:
    """Spec columns of an optional chunk (nulls when absent)."""
    if ch is None:
        return {f"{prefix}_path": None, f"{prefix}_offset": None, f"{prefix}_class": None}
    return ch.columns(prefix)


class _Builder:
    """State shared while building one spec: config, manifests, cache."""

    def __init__(
        self,
        speech: pd.DataFrame,
        noise: pd.DataFrame,
        cfg: SEMixturesParams,
        cache: AudioCache,
        n: int | None = None,
        reserved: dict[str, list[tuple[int, int]]] | None = None,
    ):
        self.cfg, self.cache, self.n = cfg, cache, n or cfg.num_samples
        self.speech, self.noise = speech, noise
        self.reserved = reserved or {}  # file → segments this split may not use

    def for_split(self, n: int, reserved: dict[str, list[tuple[int, int]]]) -> _Builder:
        """The same builder for examples of `n` samples that avoid `reserved` segments."""
        return _Builder(self.speech, self.noise, self.cfg, self.cache, n, reserved)

    def load(self, path: str) -> np.ndarray:
        return self.cache.load(path, self.cfg.sample_rate)

    def free_offset(
        self, rng: np.random.Generator, length: int, taken: list[tuple[int, int]]
    ) -> int | None:
        """A random start whose chunk avoids the `taken` segments; None if there is none."""
        n = self.n
        if length <= n:
            return None if taken else 0
        starts = [(0, length - n)]
        for lo, hi in taken:  # a start s is free when [s, s+n) misses [lo, hi)
            starts = [
                piece
                for a, b in starts
                for piece in ((a, min(b, lo - n)), (max(a, hi), b))
                if piece[0] <= piece[1]
            ]
        if not starts:
            return None
        sizes = np.array([b - a + 1 for a, b in starts], dtype=np.float64)
        a, b = starts[int(rng.choice(len(starts), p=sizes / sizes.sum()))]
        return int(rng.integers(a, b + 1))

    def audible(
        self,
        rng: np.random.Generator,
        next_file: Callable[[], int | None],
        fill: str,
        taken: dict[str, list[tuple[int, int]]],
        role: str,
    ) -> _Chunk:
        """A non-silent chunk from files given by `next_file` (manifest row ids), avoiding
        the `taken` segments of each file."""
        frame = self.speech if role == "speech" else self.noise
        tried: list[str] = []
        for _ in range(_FILE_TRIES):
            row = next_file()
            if row is None:
                break
            path = frame.at[row, "path"]
            cls = None if role == "speech" else frame.at[row, "_class"]
            wave = self.load(path)
            avoid = taken.get(path, []) + self.reserved.get(path, [])
            for _ in range(_TRIES_PER_FILE):
                offset = self.free_offset(rng, len(wave), avoid)
                if offset is None:
                    tried.append(f"{path} (no free offset)")
                    break
                piece = chunk(wave, offset, self.n, fill)
                if _power(piece) > _SILENT:
                    return _Chunk(int(row), path, offset, cls, piece, len(wave))
                tried.append(f"{path}@{offset} (silent)")
        tried = list(dict.fromkeys(tried))
        listed = "; ".join(tried[:3]) + (f"; and {len(tried) - 3} more" if len(tried) > 3 else "")
        raise MixtureError(f"no usable {role} chunk of {self.n} samples; tried {listed}")


class _NoisePool:
    """One client's noise: class distribution and, per class, files in shuffled cycles."""

    def __init__(
        self,
        rows_by_class: dict[str | None, list[int]],
        probs: dict[str | None, float],
        rng: np.random.Generator,
    ):
        self.rows = {c: list(r) for c, r in rows_by_class.items() if r}
        self.classes = [c for c in self.rows if probs.get(c, 0) > 0]
        if not self.classes:
            raise MixtureError("a client has no noise files in its classes")
        p = np.array([probs[c] for c in self.classes], dtype=np.float64)
        self.p = p / p.sum()
        self.rng = rng
        self._queues: dict[str | None, list[int]] = {}

    def has_file(self, cls: str | None, exclude: set[int]) -> bool:
        return bool(set(self.rows.get(cls, [])) - exclude)

    def draw_class(self) -> str | None:
        return self.classes[int(self.rng.choice(len(self.classes), p=self.p))]

    def draw_file(self, cls: str | None, exclude: set[int] = frozenset()) -> int | None:
        """Next file of `cls` not in `exclude` (each file once per cycle); None if none left."""
        if not self.has_file(cls, exclude):
            return None
        while True:
            queue = self._queues.get(cls)
            if not queue:
                queue = self._queues[cls] = list(self.rng.permutation(self.rows[cls]))
            row = int(queue.pop())
            if row not in exclude:
                return row


def _prepare(df: pd.DataFrame, name: str, needs_class: bool) -> pd.DataFrame:
    out = validate_manifest(df).manifest
    if out.empty:
        raise MixtureError(f"the {name} manifest is empty")
    if name == "speech":
        missing = out["speaker"].isna()
        if missing.any():
            raise MixtureError(
                f"speech manifest row utt_id={out.loc[missing, 'utt_id'].iloc[0]!r} has no "
                "speaker; every utterance needs one (client groups, held-out speakers)"
            )
        return out
    cls = (
        out["noise_class"]
        if "noise_class" in out and out["noise_class"].notna().all()
        else out["label"]
    )
    if needs_class and cls.isna().any():
        raise MixtureError(
            f"noise manifest row utt_id={out.loc[cls.isna(), 'utt_id'].iloc[0]!r} has no "
            "noise_class/label, which this noise_partition needs"
        )
    out["_class"] = cls.astype(object).where(cls.notna(), None)
    return out


def _held_out_speakers(speakers: list, held_out: HeldOutParams, rng: np.random.Generator) -> set:
    """The speakers `held_out` names: listed, a fold of a fixed deal, or a seeded share
    (rounded up, at least one speaker kept for training)."""
    if held_out.groups is not None:
        unknown = set(held_out.groups) - set(speakers)
        if unknown:
            raise MixtureError(f"data.held_out.groups: no speech of speakers {sorted(unknown)}")
        return set(held_out.groups)
    if held_out.folds is not None:
        if held_out.folds > len(speakers):
            raise MixtureError(
                f"data.held_out.folds={held_out.folds}: only {len(speakers)} speakers"
            )
        return held_out.fold_groups(np.array(speakers, dtype=object))
    n_test = min(math.ceil(held_out.fraction * len(speakers)), len(speakers) - 1)
    return set(rng.permutation(np.array(speakers, dtype=object))[:n_test])


@dataclass
class _Split:
    """Row ids of the train and test speech and noise, and the time split of the noise
    files both sides share (file → first test sample)."""

    train_speech: pd.Index
    test_speech: pd.Index
    train_noise: pd.Index
    test_noise: pd.Index
    shared_files: dict[str, int]

    def reserved(self, split: str, b: _Builder) -> dict[str, list[tuple[int, int]]]:
        """File → the segments the other split owns."""
        if split == "train":
            return {path: [(lo, len(b.load(path)))] for path, lo in self.shared_files.items()}
        return {path: [(0, lo)] for path, lo in self.shared_files.items()}


def _split(b: _Builder, rng: np.random.Generator) -> _Split:
    """The held-out split of speech (speakers or split rows) and noise (files per class)."""
    speech, noise, cfg = b.speech, b.noise, b.cfg
    held_out = cfg.held_out
    by_split = held_out.by == "split"
    if by_split:
        test_speech = speech.index[speech["split"] == held_out.split_value]
    else:
        speakers = sorted(speech["speaker"].unique(), key=_sort_key)
        held = _held_out_speakers(speakers, held_out, rng)
        test_speech = speech.index[speech["speaker"].isin(held)]
    noise_test_rows = noise.index[noise["split"] == held_out.split_value]
    shared: dict[str, int] = {}
    if by_split and len(noise_test_rows):
        test_noise = noise_test_rows
    else:
        held_rows = []
        by_class = _rows_by_class(noise, noise.index)
        for cls in sorted(by_class, key=_class_key):
            rows = rng.permutation(by_class[cls])
            if len(rows) == 1 and held_out.fraction > 0:
                path = noise.at[int(rows[0]), "path"]
                shared[path] = _time_split(b, cls, path, held_out.fraction)
                held_rows.append(int(rows[0]))
                continue
            k = min(math.ceil(held_out.fraction * len(rows)), len(rows) - 1)  # keep 1 to train
            held_rows.extend(rows[:k])
        test_noise = pd.Index(sorted(held_rows))
    test_only = test_noise.difference(noise.index[noise["path"].isin(shared)])
    train_noise = noise.index.difference(test_only)  # shared files serve both sides
    return _Split(
        speech.index.difference(test_speech), test_speech, train_noise, test_noise, shared
    )


def _time_split(b: _Builder, cls: str | None, path: str, fraction: float) -> int:
    """First test sample of a class's only file: its last `fraction` (at least one test
    chunk) is test noise, the rest (at least one training chunk) training noise."""
    length = len(b.load(path))
    n_train, n_test = b.cfg.num_samples, b.cfg.test_num_samples
    lo = min(int(length * (1 - fraction)), length - n_test)
    if lo < n_train:
        sr = b.cfg.sample_rate
        raise MixtureError(
            f"noise class {cls!r} has one file, {path} ({length / sr:.2f} s): too short to "
            f"hold out a {n_test / sr:g} s test chunk and keep a {n_train / sr:g} s training "
            "chunk; add files of this class, shorten the chunks, or drop the class"
        )
    return lo


def _speech_clients(
    speech: pd.DataFrame, rows: pd.Index, cfg: SEMixturesParams, seed: int, rng: np.random.Generator
) -> list[pd.Index]:
    """Training utterances by client, through the shared partitioners: groups are
    speakers (numeric ids in numeric order), rows in manifest order within a client."""
    part = cfg.partition
    if part.name not in SPEECH_PARTITIONERS:
        raise MixtureError(
            f"data.partition.name={part.name!r}: SE mixtures split speech by "
            f"{' or '.join(SPEECH_PARTITIONERS)}"
        )
    speakers = sorted(speech.loc[rows, "speaker"].unique(), key=_sort_key)
    codes = speech.loc[rows, "speaker"].map({s: i for i, s in enumerate(speakers)}).to_numpy()
    # iid draws from the recipe's own partition stream, before the noise partition's draws
    extra = {"rng": rng} if part.name == "iid" else {}
    try:
        split = PARTITIONERS.build(part, codes, seed, codes, **extra)
    except ValueError as err:
        raise MixtureError(f"data.partition: {err} ({len(speakers)} training speakers)") from None
    return [rows[np.sort(ix)] for ix in split.indices]


def _class_probs(
    classes: list, cfg: SEMixturesParams, C: int, rng: np.random.Generator, counts: dict
) -> list[dict]:
    """Per client (of `C`): class → probability, following `noise_partition`."""
    K = len(classes)
    if cfg.noise_partition == "iid":
        return [{c: float(counts[c]) for c in classes}] * C
    if cfg.noise_partition == "dirichlet":
        return [
            dict(zip(classes, rng.dirichlet(np.full(K, cfg.dirichlet_alpha)), strict=True))
            for _ in range(C)
        ]
    if cfg.classes_per_client > K:
        raise MixtureError(
            f"classes_per_client={cfg.classes_per_client} exceeds the {K} "
            "noise classes with training files"
        )
    order = rng.permutation(K)  # rotate through a shuffled class list: all classes used
    return [
        {
            classes[order[(c * cfg.classes_per_client + j) % K]]: 1.0
            for j in range(cfg.classes_per_client)
        }
        for c in range(C)
    ]


def build_mixture_spec(
    speech: pd.DataFrame,
    noise: pd.DataFrame,
    params: SEMixturesParams,
    seed: int,
    *,
    cache: AudioCache | None = None,
) -> pd.DataFrame:
    """The MixtureSpec table (columns :data:`SPEC_COLUMNS`) of a federated SE set.

    `speech` needs a ``speaker`` on every row; `noise` needs ``noise_class`` (or
    ``label``) unless ``noise_partition="iid"``. Offsets are in samples at
    ``params.sample_rate``; ``client_id`` is -1 for test rows. Same inputs and seed give
    the same table.
    """
    cfg = params
    b = _Builder(
        _prepare(speech, "speech", False),
        _prepare(noise, "noise", cfg.noise_partition != "iid"),
        cfg,
        cache or PROCESS_CACHE,
    )
    split = _split(b, stream(seed, MixtureStream.SPLIT))
    train_s, test_s, train_n, test_n = (
        split.train_speech,
        split.test_speech,
        split.train_noise,
        split.test_noise,
    )
    if train_s.empty or train_n.empty:
        raise MixtureError("no training speech or noise left after holding out the test set")
    part_rng = stream(seed, MixtureStream.PARTITION)
    clients = _speech_clients(b.speech, train_s, cfg, seed, part_rng)
    by_class = _rows_by_class(b.noise, train_n)
    classes = sorted(by_class, key=_class_key)
    counts = {c: len(r) for c, r in by_class.items()}
    probs = _class_probs(classes, cfg, len(clients), part_rng, counts)
    n_sup = math.floor(cfg.p_supervised * len(clients))
    train_b = b.for_split(cfg.num_samples, split.reserved("train", b))
    rows: list[dict] = []
    for c, utts in enumerate(clients):
        rng = stream(seed, MixtureStream.CLIENT, c)
        pool = _NoisePool(by_class, probs[c], rng)
        snr = (lambda r=rng: float(r.uniform(*cfg.snr_range_db))) if cfg.snr_range_db else None
        rows += _client_rows(
            train_b, utts, pool, rng, snr, client=c, supervised=c < n_sup, split="train"
        )
    if len(test_s):
        if test_n.empty:
            raise MixtureError("test speech was held out but no noise file is left for it")
        rng = stream(seed, MixtureStream.TEST)
        test_by_class = _rows_by_class(b.noise, test_n)
        pool = _NoisePool(test_by_class, {c: len(r) for c, r in test_by_class.items()}, rng)
        snrs = itertools.cycle(cfg.test_snrs_db or [None])
        snr = (lambda: float(next(snrs))) if cfg.test_snrs_db else None
        test_b = b.for_split(cfg.test_num_samples, split.reserved("test", b))
        rows += _client_rows(test_b, test_s, pool, rng, snr, client=-1, supervised=True,
                             split="test")  # fmt: skip
    spec = pd.DataFrame(rows, columns=list(SPEC_COLUMNS))
    for col in _OFFSET_COLUMNS:
        spec[col] = spec[col].astype("Int64")
    return spec


def _class_key(cls: str | None) -> tuple[bool, str]:
    return (cls is None, str(cls))


def _rows_by_class(noise: pd.DataFrame, rows: pd.Index) -> dict[str | None, list[int]]:
    out: dict[str | None, list[int]] = {}
    for row in rows:
        out.setdefault(noise.at[row, "_class"], []).append(int(row))
    return out


def _client_rows(
    b: _Builder,
    utts: pd.Index,
    pool: _NoisePool,
    rng: np.random.Generator,
    snr: Callable[[], float] | None,
    *,
    client: int,
    supervised: bool,
    split: str,
) -> list[dict]:
    """Examples of one client (or of the test set), speaker by speaker."""
    cfg, n, speech = b.cfg, b.n, b.speech
    out = []
    speakers = sorted(speech.loc[utts, "speaker"].unique(), key=_sort_key)
    client_extra: list[_Chunk] = []
    plans = []
    for spk in speakers:
        own = rng.permutation(np.asarray(utts[speech.loc[utts, "speaker"] == spk]))
        # FedEnhance: half the pairs are mixtures, the other half's noise clips are extras.
        n_mix = (
            math.ceil(len(own) / 2)
            if cfg.noise_clip == "extra_noise" and split == "train"
            else len(own)
        )
        extras = [
            _draw_noise(b, rng, pool, pool.draw_class(), [], "extra noise") for _ in own[n_mix:]
        ]
        client_extra += extras
        plans.append((spk, own[:n_mix], extras))
    for spk, mix_rows, extras in plans:
        for k, row in enumerate(mix_rows):
            s = b.audible(rng, lambda r=int(row): r, cfg.speech_fill, {}, "speech")
            noises = [_draw_noise(b, rng, pool, pool.draw_class(), [], "noise")]
            if cfg.n_noises == 2:
                noises.append(_draw_noise(b, rng, pool, pool.draw_class(), noises, "noise"))
            total = np.sum([x.wave for x in noises], axis=0, dtype=np.float64)
            ps, pn = _power(s.wave), _power(total)
            if snr is None:
                gain, snr_db = 1.0, 10 * math.log10(ps / pn)
            else:
                snr_db = snr()
                gain = math.sqrt(ps / (pn * 10 ** (snr_db / 10)))
            extra = (
                _pick_extra(b, rng, pool, extras, client_extra, noises, k)
                if cfg.noise_clip == "extra_noise"
                else None
            )
            # PULSE: the noise-only clip is another file, or another part of the same file.
            only = (
                _draw_noise(b, rng, pool, noises[0].cls, noises, "noise-only")
                if cfg.noise_clip == "noise_only"
                else None
            )
            out.append(
                {
                    "example_id": f"{split}-c{client:04d}-{len(out):06d}"
                    if client >= 0
                    else f"test-{len(out):06d}",
                    "split": split,
                    "client_id": client,
                    "supervised": supervised,
                    "speaker": spk,
                    "speech_utt_id": speech.at[row, "utt_id"],
                    "speech_path": s.path,
                    "speech_offset": s.offset,
                    **noises[0].columns("noise"),
                    **_columns("noise2", noises[1] if len(noises) > 1 else None),
                    "noise_gain": gain,
                    "snr_db": snr_db,
                    **_columns("extra_noise", extra),
                    **_columns("noise_only", only),
                    "sample_rate": cfg.sample_rate,
                    "num_samples": n,
                    "speech_fill": cfg.speech_fill,
                    "noise_fill": cfg.noise_fill,
                }
            )
    return out


def _taken(chunks: list[_Chunk]) -> dict[str, list[tuple[int, int]]]:
    """File → segments used by `chunks` (what another clip of that file must avoid)."""
    taken: dict[str, list[tuple[int, int]]] = {}
    for ch in chunks:
        taken.setdefault(ch.path, []).append(ch.segment)
    return taken


def _draw_noise(
    b: _Builder,
    rng: np.random.Generator,
    pool: _NoisePool,
    cls: str | None,
    noises: list[_Chunk],
    role: str,
) -> _Chunk:
    """A non-silent clip of class `cls` from a file not in `noises`; failing that, from a
    part of their files that none of them covers; failing that, from the pool's other
    classes in the same order."""
    used = {x.row for x in noises}
    taken = _taken(noises)
    reasons = []
    for c in [cls, *(c for c in pool.classes if c != cls)]:
        for exclude in [used, set()] if used else [set()]:
            if not pool.has_file(c, exclude):
                continue
            try:
                return b.audible(
                    rng, lambda c=c, e=exclude: pool.draw_file(c, e), b.cfg.noise_fill, taken, role
                )
            except MixtureError as err:
                reasons.append(str(err))
    context = f" beside {', '.join(x.path for x in noises)}" if noises else ""
    raise MixtureError(f"no {role} clip{context}: " + " | ".join(reasons))


def _pick_extra(
    b: _Builder,
    rng: np.random.Generator,
    pool: _NoisePool,
    extras: list[_Chunk],
    client_extra: list[_Chunk],
    noises: list[_Chunk],
    k: int,
) -> _Chunk:
    """The speaker's k-th extra clip (cycling), preferring files not in this example."""
    candidates = extras or client_extra
    if not candidates:  # test set, or a client of one-utterance speakers: a fresh clip
        return _draw_noise(b, rng, pool, pool.draw_class(), noises, "extra noise")
    own_files = {x.path for x in noises}
    ordered = candidates[k % len(candidates) :] + candidates[: k % len(candidates)]
    return next((x for x in ordered if x.path not in own_files), ordered[0])
