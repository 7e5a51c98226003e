"""Federated speech-enhancement mixtures (LibriFSD50K recipe) from any speech and noise manifest.

:func:`build_mixture_spec` turns a speech manifest and a noise manifest into a
``MixtureSpec`` table, one row per example: which client holds it, which speech and noise
chunks (file + offset in samples at the configured rate) it mixes, the noise gain and SNR,
an extra noise clip for MixIT and a noise-only clip for PU learning. The recipe follows
FedEnhance (Tzinis et al. 2021) and PULSE (Ito & Sugiyama 2023), see METHODS.md:

* clients are contiguous groups of sorted speakers (or IID utterance shards); noise per
  client is IID, a fixed subset of classes, or Dirichlet-skewed over classes;
* per speaker, half of the (utterance, noise) pairs become mixtures and the other half's
  noise clips form that speaker's extra-noise pool (MixIT's second mixture);
* the noise-only clip comes from another file of the same class, else from a part of the
  same file that does not overlap the example's noise;
* the first ``floor(p_supervised * C)`` clients are supervised;
* test examples come from held-out speakers (or the manifests' test rows) and held-out
  noise files, at a fixed set of SNRs.

Gains are resolved while building (the chunks are decoded once), so a row is a complete
recipe: :func:`load_example` rebuilds the arrays exactly and the SNR of
``speech`` against ``noise_gain * sum(noises)`` on the chunk equals ``snr_db``.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import soundfile as sf

from raysim.data.audio import load_audio
from raysim.data.manifest import validate_manifest

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
# Random-stream tags, so that each purpose and client has its own Generator.
_SPLIT_STREAM, _PARTITION_STREAM, _CLIENT_STREAM, _TEST_STREAM = 1, 2, 3, 4


class MixtureError(ValueError):
    """Inputs from which the requested mixtures cannot be built."""


@dataclass(frozen=True)
class MixtureConfig:
    """How to build a federated SE set (defaults: FedEnhance's LibriFSD50K setting).

    n_clients: C, the number of clients.
    speech_partition: ``speaker_groups`` (sorted speakers split into C contiguous disjoint
        groups, FedEnhance) or ``iid`` (utterances shuffled into C equal shards).
    noise_partition: ``iid`` (every client draws from all training noise), ``classes``
        (client c draws only from its `classes_per_client` classes) or ``dirichlet``
        (client class proportions ~ Dir(`dirichlet_alpha`)).
    n_noises: 1 or 2 noise sources per mixture.
    snr_range_db: ``(lo, hi)``: SNR ~ U[lo, hi] dB of speech against the summed noises;
        ``None``: natural levels (no rescaling; the measured SNR is recorded).
    chunk_seconds, sample_rate: example length and rate (files are resampled).
    test_chunk_seconds: length of the test examples (``None``: `chunk_seconds`). Longer
        held-out clips let STOI and PESQ score items that short training chunks would
        leave undefined.
    speech_fill, noise_fill: how files shorter than a chunk are extended: zero ``pad`` or
        ``loop``.
    extra_noise: build MixIT's extra-noise pool (half of each speaker's pairs).
    noise_only: add a noise-only clip per example (PU learning).
    p_supervised: the first ``floor(p_supervised * C)`` clients are supervised.
    test_split: ``speakers``: hold out `test_fraction` of the speakers and of each noise
        class's files; ``manifest``: use the manifests' ``split == "test"`` rows (noise:
        held-out fraction per class when the noise manifest has no test rows).
    test_snrs_db: SNRs cycled over the test examples (``None``: natural levels).
    seed: every random choice derives from it.
    """

    n_clients: int = 16
    speech_partition: Literal["speaker_groups", "iid"] = "speaker_groups"
    noise_partition: Literal["iid", "classes", "dirichlet"] = "iid"
    classes_per_client: int = 2
    dirichlet_alpha: float = 0.5
    n_noises: int = 1
    snr_range_db: tuple[float, float] | None = None
    chunk_seconds: float = 4.0
    sample_rate: int = 16000
    test_chunk_seconds: float | None = None
    speech_fill: Literal["pad", "loop"] = "pad"
    noise_fill: Literal["pad", "loop"] = "loop"
    extra_noise: bool = True
    noise_only: bool = True
    p_supervised: float = 0.0
    test_split: Literal["speakers", "manifest"] = "speakers"
    test_fraction: float = 0.2
    test_snrs_db: tuple[float, ...] | None = (-5.0, 0.0, 5.0, 10.0)
    seed: int = 0

    def __post_init__(self) -> None:
        def bad(field: str, why: str) -> MixtureError:
            return MixtureError(f"MixtureConfig.{field}={getattr(self, field)!r}: {why}")

        choices = {
            "speech_partition": ("speaker_groups", "iid"),
            "noise_partition": ("iid", "classes", "dirichlet"),
            "speech_fill": ("pad", "loop"),
            "noise_fill": ("pad", "loop"),
            "test_split": ("speakers", "manifest"),
        }
        for field, allowed in choices.items():
            if getattr(self, field) not in allowed:
                raise bad(field, f"expected one of {', '.join(allowed)}")
        if self.n_clients < 1:
            raise bad("n_clients", "must be >= 1")
        if self.n_noises not in (1, 2):
            raise bad("n_noises", "must be 1 or 2")
        if self.classes_per_client < 1:
            raise bad("classes_per_client", "must be >= 1")
        if self.dirichlet_alpha <= 0:
            raise bad("dirichlet_alpha", "must be > 0")
        if self.snr_range_db is not None and (
            len(self.snr_range_db) != 2 or self.snr_range_db[0] > self.snr_range_db[1]
        ):
            raise bad("snr_range_db", "must be (lo, hi) with lo <= hi, or None")
        if self.chunk_seconds <= 0 or self.sample_rate <= 0:
            raise bad("chunk_seconds", "chunk_seconds and sample_rate must be > 0")
        if self.test_chunk_seconds is not None and self.test_chunk_seconds <= 0:
            raise bad("test_chunk_seconds", "must be > 0 or None")
        if not 0 <= self.p_supervised <= 1:
            raise bad("p_supervised", "must be in [0, 1]")
        if not 0 <= self.test_fraction < 1:
            raise bad("test_fraction", "must be in [0, 1)")
        if self.test_snrs_db is not None and len(self.test_snrs_db) == 0:
            raise bad("test_snrs_db", "must be non-empty or None")

    @property
    def num_samples(self) -> int:
        """Chunk length in samples."""
        return int(round(self.chunk_seconds * self.sample_rate))

    @property
    def test_num_samples(self) -> int:
        """Test example length in samples."""
        seconds = self.test_chunk_seconds or self.chunk_seconds
        return int(round(seconds * self.sample_rate))


class AudioCache:
    """Decoded files (mono float32 at one rate) kept per process, least recently used out.

    Bounded by the bytes held (`max_bytes`), so long corpora cannot exhaust memory.
    Returned arrays are read-only: they are shared between callers.
    """

    def __init__(self, max_bytes: int = 256 * 2**20):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._bytes = 0

    def load(self, path: str, sample_rate: int) -> np.ndarray:
        """The file at `sample_rate`, decoded once while it stays in the cache."""
        key = (str(path), int(sample_rate))
        wave = self._items.get(key)
        if wave is not None:
            self._items.move_to_end(key)
            return wave
        wave, _ = load_audio(path, sample_rate)
        wave.flags.writeable = False
        self._items[key] = wave
        self._bytes += wave.nbytes
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.nbytes
        return wave


_PROCESS_CACHE = AudioCache()


def chunk(wave: np.ndarray, offset: int, n: int, fill: str) -> np.ndarray:
    """`n` samples from `offset`; past the end: zeros (``pad``) or wrap around (``loop``)."""
    if offset + n <= len(wave):
        return np.array(wave[offset : offset + n], dtype=np.float32)
    if fill == "loop":
        return np.take(wave, (offset + np.arange(n)) % len(wave)).astype(np.float32)
    out = np.zeros(n, dtype=np.float32)
    part = wave[offset : offset + n]
    out[: len(part)] = part
    return out


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
        cfg: MixtureConfig,
        cache: AudioCache,
        n: int | None = None,
    ):
        self.cfg, self.cache, self.n = cfg, cache, n or cfg.num_samples
        self.speech, self.noise = speech, noise

    def with_length(self, n: int) -> _Builder:
        """The same builder for examples of `n` samples (the test set's length)."""
        return _Builder(self.speech, self.noise, self.cfg, self.cache, n)

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
            for _ in range(_TRIES_PER_FILE):
                offset = self.free_offset(rng, len(wave), taken.get(path, []))
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


def _split(
    speech: pd.DataFrame, noise: pd.DataFrame, cfg: MixtureConfig, rng: np.random.Generator
) -> tuple[pd.Index, pd.Index, pd.Index, pd.Index]:
    """Row ids of (train speech, test speech, train noise, test noise)."""
    if cfg.test_split == "manifest":
        test_speech = speech.index[speech["split"] == "test"]
    else:
        speakers = sorted(speech["speaker"].unique(), key=_sort_key)
        n_test = min(math.ceil(cfg.test_fraction * len(speakers)), len(speakers) - 1)
        held = set(rng.permutation(np.array(speakers, dtype=object))[:n_test])
        test_speech = speech.index[speech["speaker"].isin(held)]
    noise_test_rows = noise.index[noise["split"] == "test"]
    if cfg.test_split == "manifest" and len(noise_test_rows):
        test_noise = noise_test_rows
    else:
        held_rows = []
        by_class = _rows_by_class(noise, noise.index)
        for cls in sorted(by_class, key=_class_key):
            rows = rng.permutation(by_class[cls])
            k = min(math.ceil(cfg.test_fraction * len(rows)), len(rows) - 1)  # keep 1 to train
            held_rows.extend(rows[:k])
        test_noise = pd.Index(sorted(held_rows))
    return (
        speech.index.difference(test_speech),
        test_speech,
        noise.index.difference(test_noise),
        test_noise,
    )


def _speech_clients(
    speech: pd.DataFrame, rows: pd.Index, cfg: MixtureConfig, rng: np.random.Generator
) -> list[pd.Index]:
    if cfg.speech_partition == "speaker_groups":
        speakers = sorted(speech.loc[rows, "speaker"].unique(), key=_sort_key)
        if len(speakers) < cfg.n_clients:
            raise MixtureError(
                f"n_clients={cfg.n_clients} exceeds the {len(speakers)} "
                "training speakers; lower it or use speech_partition='iid'"
            )
        groups = np.array_split(np.array(speakers, dtype=object), cfg.n_clients)
        return [rows[speech.loc[rows, "speaker"].isin(set(g))] for g in groups]
    if len(rows) < cfg.n_clients:
        raise MixtureError(f"n_clients={cfg.n_clients} exceeds the {len(rows)} utterances")
    return [pd.Index(sorted(part)) for part in np.array_split(rng.permutation(rows), cfg.n_clients)]


def _class_probs(
    classes: list, cfg: MixtureConfig, rng: np.random.Generator, counts: dict
) -> list[dict]:
    """Per client: class → probability, following `noise_partition`."""
    C, K = cfg.n_clients, len(classes)
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
    config: MixtureConfig | None = None,
    *,
    cache: AudioCache | None = None,
) -> pd.DataFrame:
    """The MixtureSpec table (columns :data:`SPEC_COLUMNS`) of a federated SE set.

    `speech` needs a ``speaker`` on every row; `noise` needs ``noise_class`` (or
    ``label``) unless ``noise_partition="iid"``. Offsets are in samples at
    ``config.sample_rate``; ``client_id`` is -1 for test rows. Same inputs and seed give
    the same table.
    """
    cfg = config or MixtureConfig()
    b = _Builder(
        _prepare(speech, "speech", False),
        _prepare(noise, "noise", cfg.noise_partition != "iid"),
        cfg,
        cache or _PROCESS_CACHE,
    )
    train_s, test_s, train_n, test_n = _split(
        b.speech, b.noise, cfg, _stream(cfg.seed, _SPLIT_STREAM)
    )
    if train_s.empty or train_n.empty:
        raise MixtureError("no training speech or noise left after holding out the test set")
    part_rng = _stream(cfg.seed, _PARTITION_STREAM)
    clients = _speech_clients(b.speech, train_s, cfg, part_rng)
    by_class = _rows_by_class(b.noise, train_n)
    classes = sorted(by_class, key=_class_key)
    probs = _class_probs(classes, cfg, part_rng, {c: len(r) for c, r in by_class.items()})
    n_sup = math.floor(cfg.p_supervised * cfg.n_clients)
    rows: list[dict] = []
    for c, utts in enumerate(clients):
        rng = _stream(cfg.seed, _CLIENT_STREAM, c)
        pool = _NoisePool(by_class, probs[c], rng)
        snr = (lambda r=rng: float(r.uniform(*cfg.snr_range_db))) if cfg.snr_range_db else None
        rows += _client_rows(b, utts, pool, rng, snr, client=c, supervised=c < n_sup, split="train")
    if len(test_s):
        if test_n.empty:
            raise MixtureError("test speech was held out but no noise file is left for it")
        rng = _stream(cfg.seed, _TEST_STREAM)
        test_by_class = _rows_by_class(b.noise, test_n)
        pool = _NoisePool(test_by_class, {c: len(r) for c, r in test_by_class.items()}, rng)
        snrs = itertools.cycle(cfg.test_snrs_db or [None])
        snr = (lambda: float(next(snrs))) if cfg.test_snrs_db else None
        test_b = b.with_length(cfg.test_num_samples)
        rows += _client_rows(test_b, test_s, pool, rng, snr, client=-1, supervised=True,
                             split="test")  # fmt: skip
    spec = pd.DataFrame(rows, columns=list(SPEC_COLUMNS))
    for col in _OFFSET_COLUMNS:
        spec[col] = spec[col].astype("Int64")
    return spec


def _stream(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *keys])


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
        n_mix = math.ceil(len(own) / 2) if cfg.extra_noise and split == "train" else len(own)
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
                if cfg.extra_noise
                else None
            )
            # PULSE: the noise-only clip is another file, or another part of the same file.
            only = (
                _draw_noise(b, rng, pool, noises[0].cls, noises, "noise-only")
                if cfg.noise_only
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


@dataclass
class MixtureExample:
    """One materialised example (float32 arrays of ``num_samples``)."""

    mixture: np.ndarray  # speech + noise
    speech: np.ndarray
    noises: np.ndarray  # (n_noises, T), each already scaled by the noise gain
    extra_noise: np.ndarray | None  # MixIT's second mixture, natural level
    noise_only: np.ndarray | None  # PU positive example, natural level

    @property
    def noise(self) -> np.ndarray:
        """The summed (scaled) noise in the mixture."""
        return self.noises.sum(axis=0)


def load_example(row: Mapping | pd.Series, *, cache: AudioCache | None = None) -> MixtureExample:
    """Rebuild one spec row's arrays (decoded files cached per process)."""
    cache = cache or _PROCESS_CACHE
    sr, n = int(row["sample_rate"]), int(row["num_samples"])

    def clip(prefix: str, fill: str) -> np.ndarray | None:
        path = row.get(f"{prefix}_path")
        if path is None or (isinstance(path, float) and math.isnan(path)):
            return None
        return chunk(cache.load(path, sr), int(row[f"{prefix}_offset"]), n, fill)

    speech = clip("speech", row["speech_fill"])
    parts = [clip(p, row["noise_fill"]) for p in ("noise", "noise2")]
    gain = np.float32(row["noise_gain"])
    noises = np.stack([p * gain for p in parts if p is not None])
    return MixtureExample(
        mixture=speech + noises.sum(axis=0),
        speech=speech,
        noises=noises,
        extra_noise=clip("extra_noise", row["noise_fill"]),
        noise_only=clip("noise_only", row["noise_fill"]),
    )


def write_mixtures(
    spec: pd.DataFrame, out_dir: str | Path, *, cache: AudioCache | None = None
) -> pd.DataFrame:
    """Write every example as PCM_16 WAVs and the spec as ``mixtures.parquet``.

    Files: ``train/client0003/{example_id}_{role}.wav`` (``test/…`` for the test set), roles
    mixture, speech, noise1[, noise2][, extra_noise][, noise_only]. An example whose peak
    would clip is scaled down as a whole (column ``write_scale``), which keeps its SNR.
    Returns the spec with a ``{role}_wav`` column per role.
    """
    out_dir = Path(out_dir)
    table = spec.copy()
    written: dict[str, list] = {}
    scales = []
    for i, (_, row) in enumerate(spec.iterrows()):
        ex = load_example(row, cache=cache)
        arrays = {
            "mixture": ex.mixture,
            "speech": ex.speech,
            **{f"noise{k + 1}": x for k, x in enumerate(ex.noises)},
            "extra_noise": ex.extra_noise,
            "noise_only": ex.noise_only,
        }
        peak = max(float(np.abs(x).max()) for x in arrays.values() if x is not None)
        scale = min(1.0, 0.99 / peak) if peak > 0 else 1.0
        scales.append(scale)
        folder = out_dir / row["split"]
        if row["client_id"] >= 0:
            folder = folder / f"client{int(row['client_id']):04d}"
        folder.mkdir(parents=True, exist_ok=True)
        for role, x in arrays.items():
            column = written.setdefault(f"{role}_wav", [None] * len(spec))
            if x is not None:
                path = folder / f"{row['example_id']}_{role}.wav"
                sf.write(path, x * scale, int(row["sample_rate"]), subtype="PCM_16")
                column[i] = str(path)
    for column, values in written.items():
        table[column] = values
    table["write_scale"] = scales
    table.to_parquet(out_dir / "mixtures.parquet", index=False)
    return table
