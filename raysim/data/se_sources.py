"""Speech-enhancement data sources: federated mixtures from speech and noise corpora
(`se_mixtures`) and the W2 benchmark file (`npz_w2`).

Client arrays (one row per example, float32 of `num_samples` each) are what the
`speech_enhancement` task reads:

=============  =====================================================================
``mixture``    x₁, the noisy recording (speech + noise)
``noise_clip`` a noise-only recording of the client's environment: MixIT's second
               mixture x₂ and PULSE's positive (noise) example; at natural level,
               or at the power of the example's noise when SNRs are drawn
               (`snr_range_db`), so that level does not tell it from the mixture
``speech``     clean speech (supervised clients only; zeros elsewhere)
``noise``      the noise in x₁ (supervised clients only; zeros elsewhere)
``kind``       int8 client kind per row: 0 supervised, 1 unsupervised, 2 PU
=============  =====================================================================

Server data: held-out ``mixture``, ``speech`` and ``noise`` arrays.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal, Self

import numpy as np
from pydantic import Field, model_validator

from raysim.data.clients import ArrayClients
from raysim.data.errors import DataConfigError
from raysim.data.held_out import HeldOutParams
from raysim.data.sources import PathSourceParams, SourceData, SourceParams, path_problem
from raysim.registry import PARTITIONERS, Params
from raysim.rng import Stream, stream

if TYPE_CHECKING:  # pandas costs ~0.4 s to import; workers importing the task need none of it
    import pandas as pd

SUPERVISED, UNSUPERVISED, PU = 0, 1, 2
"""Client kinds, as stored in the ``kind`` array."""
KIND_NAMES: dict[int, str] = {SUPERVISED: "supervised", UNSUPERVISED: "unsupervised", PU: "pu"}


class AudioSetParams(Params):
    """A speech or noise manifest: a manifest file, or a corpus builder and its folder.

    ``$VARS`` and ``~`` in paths are expanded, so configs can say
    ``root: ${RAYSIM_DATA_ROOT}/fsdd``.
    """

    corpus: str | None = Field(None, description="a name of raysim.data.corpora.BUILDERS")
    root: str | None = Field(None, description="the corpus folder (with corpus)")
    manifest: str | None = Field(None, description="or a Parquet manifest file")
    max_files: int | None = Field(
        None, ge=1, description="seeded subset of about this many files, stratified by class"
    )

    @model_validator(mode="after")
    def _one_form(self) -> AudioSetParams:
        if self.manifest is None and self.corpus is None:
            raise ValueError("give either manifest or corpus (+ root)")
        if self.manifest is not None and self.corpus is not None:
            # e.g. a config's {corpus, root} with a manifest= override merged into it
            raise ValueError(
                f"give either manifest or corpus (+ root), not both (manifest "
                f"{self.manifest!r}, corpus {self.corpus!r}); to replace a config's corpus "
                "from the command line, add KEY.corpus=null KEY.root=null"
            )
        if self.corpus is not None and self.root is None:
            raise ValueError("corpus needs root")
        return self

    def problem(self) -> tuple[str, str] | None:
        """What keeps this set from loading, as (its key, a message naming the value):
        a missing manifest file or corpus folder ($VARS expanded), an unset variable, an
        unknown corpus; None if nothing. Nothing is read."""
        if self.manifest is not None:
            what = "a Parquet manifest, e.g. made by features/manifest.py"
            problem = path_problem(self.manifest, "file", what, expand_vars=True)
            return ("manifest", problem) if problem else None
        from raysim.data.corpora import BUILDERS

        if self.corpus.lower().replace("-", "_") not in BUILDERS:
            return "corpus", f"{self.corpus!r} is not a known corpus; known: {', '.join(BUILDERS)}"
        what = f"the {self.corpus} corpus folder, in its published layout"
        problem = path_problem(self.root, "folder", what, expand_vars=True)
        return ("root", problem) if problem else None


class SEHeldOutParams(HeldOutParams):
    """The shared held-out split with the SE recipes' own default share (FedEnhance's
    20 % of speakers and of each noise class's files), written or not."""

    fraction: float = Field(
        0.2, ge=0, lt=1, description="share of speakers (by groups) and of noise files held out"
    )


class SEMixturesParams(SourceParams):
    """Federated SE mixtures from a speech and a noise set (`raysim.data.se_recipe`).

    Defaults are FedEnhance's (Tzinis et al., WASPAA 2021): 16 clients of contiguous
    speaker groups, IID noise, 1 noise at natural level, 4 s at 16 kHz, unsupervised
    clients with an extra-noise clip. `partition` and `held_out` are the vocabulary of
    every data source: speech is partitioned with groups = speakers (``group``, by
    ``n_clients`` contiguous runs or ``groups_per_client``; or ``iid`` utterance
    shards), and the server holds out speakers (``by: groups``) or the manifests'
    split rows (``by: split``) plus a share of every noise class's files. Client
    kinds: the first ⌊p_supervised·C⌋ clients are supervised, the next ⌊p_pu·C⌋ are
    PU (PULSE), the rest unsupervised (MixIT).
    """

    speech: AudioSetParams
    noise: AudioSetParams
    partition: PARTITIONERS.type = PARTITIONERS.field({"name": "group", "n_clients": 16})
    held_out: SEHeldOutParams = Field(default_factory=lambda: SEHeldOutParams())
    noise_partition: Literal["iid", "classes", "dirichlet"] = Field(
        "iid",
        description="noise per client: every class, classes_per_client of them, or "
        "Dirichlet(dirichlet_alpha) class proportions",
    )
    classes_per_client: int = Field(2, ge=1)
    dirichlet_alpha: float = Field(0.5, gt=0)
    n_noises: Literal[1, 2] = 1
    snr_range_db: tuple[float, float] | None = Field(
        None, description="(lo, hi): SNR ~ U[lo, hi] dB; None: natural levels"
    )
    chunk_seconds: float = Field(4.0, gt=0)
    sample_rate: int = Field(16000, ge=1000, description="files are resampled to it")
    speech_fill: Literal["pad", "loop"] = Field("pad", description="files shorter than a chunk")
    noise_fill: Literal["pad", "loop"] = "loop"
    test_chunk_seconds: float | None = Field(
        None,
        gt=0,
        description="held-out example length (default chunk_seconds); longer "
        "clips let STOI/PESQ score what short training chunks leave undefined",
    )
    p_supervised: float = Field(0.0, ge=0, le=1)
    p_pu: float = Field(0.0, ge=0, le=1)
    noise_clip: Literal["extra_noise", "noise_only"] = Field(
        "extra_noise",
        description="extra_noise: FedEnhance's pool (half of each speaker's pairs give "
        "noise clips); noise_only: PULSE's clip of the same class, every utterance mixed",
    )
    test_snrs_db: list[float] | None = Field(
        default_factory=lambda: [-5.0, 0.0, 5.0, 10.0],
        description="SNRs cycled over the test examples (None: natural levels)",
    )
    max_test_examples: int | None = Field(
        None,
        ge=1,
        description="a seeded sample of this many test examples, drawn over all held-out "
        "speakers and noises (the first N rows would drop whole speakers)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        lo_hi = self.snr_range_db
        if lo_hi is not None and lo_hi[0] > lo_hi[1]:
            raise ValueError(f"snr_range_db {lo_hi}: lo must be <= hi")
        if self.test_snrs_db is not None and not self.test_snrs_db:
            raise ValueError("test_snrs_db: give at least one SNR, or null for natural levels")
        n = getattr(self.partition, "n_clients", None)
        if n is not None:
            check_kinds_fit(n, self.p_supervised, self.p_pu)
        return self

    def input_problems(self) -> list[tuple[str, str]]:
        out = []
        for role, audio_set in (("speech", self.speech), ("noise", self.noise)):
            problem = audio_set.problem()
            if problem is not None:
                out.append((f"{role}.{problem[0]}", problem[1]))
        return out

    @property
    def num_samples(self) -> int:
        """Training example length in samples."""
        return int(round(self.chunk_seconds * self.sample_rate))

    @property
    def test_num_samples(self) -> int:
        """Test example length in samples."""
        return int(round((self.test_chunk_seconds or self.chunk_seconds) * self.sample_rate))


def check_kinds_fit(n_clients: int, p_supervised: float, p_pu: float) -> None:
    """ValueError unless ⌊p_supervised·C⌋ + ⌊p_pu·C⌋ clients fit in C."""
    if math.floor(p_supervised * n_clients) + math.floor(p_pu * n_clients) > n_clients:
        raise ValueError(f"p_supervised + p_pu give more clients than the {n_clients} clients")


def _subset(df: pd.DataFrame, max_files: int | None, by: str, seed: int) -> pd.DataFrame:
    """About `max_files` rows, the same share of every `by` group (seeded)."""
    if max_files is None or max_files >= len(df):
        return df
    frac = max_files / len(df)
    return df.groupby(df[by].fillna(""), group_keys=False).sample(frac=frac, random_state=seed)


def load_audio_set(params: AudioSetParams, role: str, seed: int) -> pd.DataFrame:
    """The manifest of a speech (`role="speech"`) or noise set, subset as configured."""
    if params.manifest is not None:
        from raysim.data.manifest import read_manifest

        df = read_manifest(os.path.expandvars(os.path.expanduser(params.manifest)))
    else:
        from raysim.data.corpora import build_manifest

        root = Path(os.path.expandvars(os.path.expanduser(params.root)))
        df = build_manifest(params.corpus, root, probe=False)
    by = "speaker" if role == "speech" else ("noise_class" if "noise_class" in df else "label")
    return _subset(df, params.max_files, by, seed).reset_index(drop=True)


def client_kinds(n_clients: int, p_supervised: float, p_pu: float) -> np.ndarray:
    """Kind of each client: ⌊p_supervised·C⌋ supervised, then ⌊p_pu·C⌋ PU, then unsupervised."""
    n_sup, n_pu = math.floor(p_supervised * n_clients), math.floor(p_pu * n_clients)
    kinds = np.full(n_clients, UNSUPERVISED, np.int8)
    kinds[:n_sup] = SUPERVISED
    kinds[n_sup : n_sup + n_pu] = PU
    return kinds


def _materialise(spec: pd.DataFrame, clip: str, match_level: bool) -> dict[str, np.ndarray]:
    """Arrays of the spec's rows: mixture, speech, noise and the chosen noise clip,
    rescaled to the power of the mixture's noise if `match_level`."""
    from raysim.data.se_examples import load_example

    out: dict[str, list[np.ndarray]] = {"mixture": [], "speech": [], "noise": [], "noise_clip": []}
    for _, row in spec.iterrows():
        ex = load_example(row)
        noise_clip = getattr(ex, clip)
        if match_level:
            noise_clip = noise_clip * np.sqrt(np.mean(ex.noise**2) / np.mean(noise_clip**2))
        out["mixture"].append(ex.mixture)
        out["speech"].append(ex.speech)
        out["noise"].append(ex.noise)
        out["noise_clip"].append(noise_clip)
    return {k: np.stack(v).astype(np.float32) for k, v in out.items()}


def noise_files_by_class(spec: pd.DataFrame) -> dict[str, list[str]]:
    """Noise class → the files the `spec` rows' noises (first and second) come from."""
    files: dict[str, set[str]] = {}
    for prefix in ("noise", "noise2"):
        rows = spec[[f"{prefix}_class", f"{prefix}_path"]].dropna(subset=[f"{prefix}_path"])
        for cls, path in rows.itertuples(index=False):
            files.setdefault(str(cls), set()).add(path)
    return {cls: sorted(paths) for cls, paths in sorted(files.items())}


def audio_conversion(spec: pd.DataFrame) -> str:
    """What loading does to the files the `spec` rows use: ``"3 of 40 files will be
    resampled from 8000 Hz to 16000 Hz, 0 down-mixed from stereo"`` (headers only)."""
    from raysim.audio.conversion import FormatCounts, conversion_summary

    columns = [c for c in spec.columns if c.endswith("_path")]
    paths = sorted({p for c in columns for p in spec[c].dropna()})
    return conversion_summary(FormatCounts.probe(paths), int(spec["sample_rate"].iat[0]))


NO_CLASS = "(no class)"
"""The noise class of noise files whose manifest gives none (``noise_partition: iid``)."""


def speakers_and_noise_classes(
    train: pd.DataFrame, test: pd.DataFrame, n_clients: int
) -> dict[str, list]:
    """What `raysim.federation` reads of a federation the arrays do not hold: each
    client's speakers (``client_speakers``), the noise classes (``noise_classes``),
    each client's and the held-out examples' count per noise class
    (``client_class_counts``, ``held_out_class_counts``)."""
    import pandas as pd

    def noise_class(rows: pd.DataFrame) -> pd.Series:
        cls = rows["noise_class"].astype(object)
        return cls.where(cls.notna(), NO_CLASS).astype(str)

    classes = sorted(set(noise_class(train)) | set(noise_class(test)))
    table = pd.crosstab(train["client_id"], noise_class(train))
    table = table.reindex(index=range(n_clients), columns=classes, fill_value=0)
    held = noise_class(test).value_counts().reindex(classes, fill_value=0)
    speakers = train.groupby("client_id")["speaker"].unique()
    return {
        "client_speakers": [sorted(map(str, speakers.get(c, []))) for c in range(n_clients)],
        "noise_classes": classes,
        "client_class_counts": table.to_numpy(np.int64).tolist(),
        "held_out_class_counts": held.to_numpy(np.int64).tolist(),
    }


def _at_most(rows: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """`rows`, or a seeded sample of `n` of them kept in their order."""
    if n is None or n >= len(rows):
        return rows
    keep = np.sort(stream(seed, Stream.TEST_SUBSET).choice(len(rows), n, replace=False))
    return rows.iloc[keep]


def _no_test_examples(params: SEMixturesParams, speech: pd.DataFrame) -> str:
    """Why the recipe held out nothing, as far as the settings tell."""
    held = params.held_out
    msg = f"data.held_out (by {held.by}): the mixtures have no test examples"
    if held.by == "split":
        n = int((speech["split"].astype(str) == held.split_value).sum()) if "split" in speech else 0
        return (
            f"{msg}: the speech set has {n} rows with split={held.split_value!r} "
            "(data.held_out.by=groups holds out a fraction of the speakers instead)"
        )
    return f"{msg}: are the held-out files shorter than data.test_chunk_seconds?"


def se_mixtures(params: SEMixturesParams, seed: int) -> SourceData:
    """Clients and held-out test mixtures from speech and noise manifests.

    Clean speech and the mixture's noise are kept only for supervised clients
    (zeros elsewhere), so unsupervised and PU clients cannot use them. The info
    describes the federation: each client's kind, noise classes and example count
    (``client_*``), and the speakers and noise files (by class) of the held-out
    examples the server evaluates (``held_out_*``).
    """
    from raysim.data.se_recipe import build_mixture_spec

    speech = load_audio_set(params.speech, "speech", seed)
    noise = load_audio_set(params.noise, "noise", seed)
    spec = build_mixture_spec(speech, noise, params, seed)
    conversion = audio_conversion(spec)
    print(f"se_mixtures audio: {conversion}", file=sys.stderr, flush=True)
    n_clients = int(spec["client_id"].max()) + 1
    train = spec[spec["split"] == "train"].sort_values("client_id", kind="stable")
    test = _at_most(spec[spec["split"] == "test"], params.max_test_examples, seed)
    if test.empty:
        raise DataConfigError(_no_test_examples(params, speech))
    match_level = params.snr_range_db is not None
    arrays = _materialise(train, params.noise_clip, match_level)
    check_kinds_fit(n_clients, params.p_supervised, params.p_pu)
    kinds = client_kinds(n_clients, params.p_supervised, params.p_pu)
    row_kind = kinds[train["client_id"].to_numpy()]
    arrays["kind"] = row_kind
    for key in ("speech", "noise"):
        arrays[key][row_kind != SUPERVISED] = 0.0
    counts = np.bincount(train["client_id"].to_numpy(), minlength=n_clients)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    test_arrays = _materialise(test, params.noise_clip, match_level)
    del test_arrays["noise_clip"]
    info = {
        "sample_rate": params.sample_rate,
        "num_samples": params.num_samples,
        "client_kinds": [KIND_NAMES[int(k)] for k in kinds],
        "client_noise_classes": [
            sorted(train.loc[train["client_id"] == c, "noise_class"].unique().tolist())
            for c in range(n_clients)
        ],
        "client_examples": counts.tolist(),
        "held_out_speakers": sorted(map(str, test["speaker"].unique())),
        "held_out_noise_files": noise_files_by_class(test),
        **speakers_and_noise_classes(train, test, n_clients),
        "audio_conversion": conversion,
    }
    return SourceData(ArrayClients(arrays, offsets), test_arrays, info)


class NpzW2Params(PathSourceParams):
    """The W2 workload file (`workloads.py dump w2`): X (mixtures), offsets, test_*."""

    path_hint: ClassVar[str] = "an .npz file with X, offsets, test_mix, test_speech"

    sample_rate: int = Field(8000, ge=1000)


def npz_w2(params: NpzW2Params, seed: int) -> SourceData:
    """Unsupervised clients holding only noisy mixtures (client c owns rows
    offsets[c]:offsets[c+1] of X); the task pairs them into mixtures of mixtures.
    Server data: test_mix / test_speech / test_noise."""
    path = Path(params.path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"data.path: no such file {path}")
    with np.load(path) as f:
        missing = {"X", "offsets", "test_mix", "test_speech"} - set(f.files)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)}")
        x, offsets = f["X"].astype(np.float32), f["offsets"]
        test = {"mixture": f["test_mix"], "speech": f["test_speech"]}
        if "test_noise" in f.files:
            test["noise"] = f["test_noise"]
    if not np.isfinite(x).all():
        raise ValueError(f"{path}: array X contains NaN or inf")
    info = {"sample_rate": params.sample_rate, "num_samples": int(x.shape[1])}
    test = {k: np.asarray(v, np.float32) for k, v in test.items()}
    return SourceData(ArrayClients({"mixture": x}, offsets), test, info)
