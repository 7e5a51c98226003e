"""CDL data: the mixtures, the conditions that group clients, and one federation per group.

One mixture spec (`raysim.data.se_recipe.build_mixture_spec`) is built over the seen
and unseen noise classes together, so that the held-out noise files are the same
whichever classes are named; the training clients whose noise is an unseen class are
then dropped (no specialist, classifier or moderator sees them), and the test mixtures
keep their noise class, SNR and whether the class was seen.

Conditions (`CDLConfig.condition`):

* ``noise_class``: a client's (majority) noise class (``noise_partition: classes``);
* ``snr_band``: clients are dealt round-robin to the bands; each training example's
  noise is rescaled to an SNR drawn uniformly in its client's band (speech, noise and
  the matched noise clip stay consistent); a test mixture's band is that of its SNR;
* ``cluster``: no metadata is used: k-means (scikit-learn) on each client's mean log
  spectrum of its noisy mixtures; a test mixture's condition is the cluster holding
  most of the clients of its noise class (for scoring only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raysim.cdl.config import CDLConfig
from raysim.config import ConfigError
from raysim.data.clients import ArrayClients
from raysim.data.se_sources import (
    KIND_NAMES,
    SUPERVISED,
    _at_most,
    _materialise,
    client_kinds,
    load_audio_set,
    speakers_and_noise_classes,
)
from raysim.data.sources import SourceData

_PER_CLIENT_INFO = ("client_kinds", "client_noise_classes", "client_examples", "client_speakers",
                    "client_class_counts")  # fmt: skip


@dataclass
class CDLData:
    """The training federation (seen classes only), its grouping, and the test set."""

    train: SourceData
    client_group: np.ndarray  # (C,) group index of each training client
    group_names: list[str]
    test: dict[str, np.ndarray]  # mixture, speech, noise (n, T)
    test_class: np.ndarray  # (n,) noise class (str)
    test_snr: np.ndarray  # (n,) dB
    test_seen: np.ndarray  # (n,) bool: its class was seen in training
    test_condition: np.ndarray  # (n,) matching group, -1 where none
    sample_rate: int
    notes: list[str] = field(default_factory=list)

    @property
    def n_groups(self) -> int:
        return len(self.group_names)

    def group_clients(self, g: int) -> list[int]:
        return np.flatnonzero(self.client_group == g).tolist()

    def clean_training_speech(self) -> np.ndarray:
        """The clean speech of the training clients that hold it, the supervised ones
        (the moderator's only training data; MixIT and PU clients hold none)."""
        arrays = self.train.clients.arrays
        return arrays["speech"][arrays["kind"] == SUPERVISED]

    def training_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Every training row's noisy mixture and its client's group (the classifier's data)."""
        clients: ArrayClients = self.train.clients
        groups = np.repeat(self.client_group, clients.sample_counts())
        return clients.arrays["mixture"], groups


def band_of(snr: np.ndarray, bands: list[tuple[float, float]]) -> np.ndarray:
    """Index of the [lo, hi) band holding each SNR (the last band's hi included); -1 if none."""
    out = np.full(len(snr), -1, np.int64)
    for b, (lo, hi) in enumerate(bands):
        last = b == len(bands) - 1
        inside = (snr >= lo) & ((snr <= hi) if last else (snr < hi))
        out[(out < 0) & inside] = b
    return out


def log_spectrum_stats(waves: np.ndarray, n_fft: int = 256, hop: int = 128) -> np.ndarray:
    """(n, 2F): mean and std over frames of log(|STFT|² + 1e-4) of each unit-RMS wave (numpy)."""
    waves = np.asarray(waves, np.float64)
    waves = waves / (np.sqrt(np.mean(waves**2, axis=1, keepdims=True)) + 1e-8)
    window = np.hanning(n_fft)
    starts = range(0, waves.shape[1] - n_fft + 1, hop)
    frames = np.stack([waves[:, s : s + n_fft] * window for s in starts], 1)
    logp = np.log(np.abs(np.fft.rfft(frames, axis=-1)) ** 2 + 1e-4)
    return np.concatenate([logp.mean(1), logp.std(1)], 1).astype(np.float32)


def subset_clients(data: SourceData, clients: list[int]) -> SourceData:
    """The federation of `clients` only (renumbered 0..k-1), with the same test set."""
    full: ArrayClients = data.clients
    rows = [np.arange(full.offsets[c], full.offsets[c + 1]) for c in clients]
    info = dict(data.info)
    for key in _PER_CLIENT_INFO:
        if key in info:
            info[key] = [info[key][c] for c in clients]
    return SourceData(ArrayClients.from_partition(full.arrays, rows), data.eval_data, info)


def _remix(arrays: dict[str, np.ndarray], snr: np.ndarray) -> None:
    """Rescale each row's noise (and matched noise clip) to `snr` dB, in place."""
    p_s = np.mean(arrays["speech"].astype(np.float64) ** 2, axis=1)
    p_n = np.mean(arrays["noise"].astype(np.float64) ** 2, axis=1) + 1e-12
    gain = np.sqrt(p_s / (p_n * 10 ** (snr / 10))).astype(np.float32)[:, None]
    arrays["noise"] *= gain
    arrays["noise_clip"] *= gain
    arrays["mixture"] = arrays["speech"] + arrays["noise"]


def _class_column(df) -> str:
    return "noise_class" if "noise_class" in df else "label"


def build_cdl_data(cfg: CDLConfig, seed: int) -> CDLData:
    """Mixtures, groups and test set of `cfg` for `seed` (see the module doc)."""
    import pandas as pd

    from raysim.data.se_recipe import build_mixture_spec

    params = cfg.data
    speech = load_audio_set(params.speech, "speech", seed)
    noise = load_audio_set(params.noise, "noise", seed)
    col = _class_column(noise)
    known = set(noise[col].astype(str))
    for key in ("seen_classes", "unseen_classes"):
        missing = [c for c in getattr(cfg, key) if c not in known]
        if missing:
            raise ConfigError(f"{key}: {missing} not in the noise set; it has {sorted(known)}")
    wanted = set(cfg.seen_classes) | set(cfg.unseen_classes)
    noise = noise[noise[col].astype(str).isin(wanted)].reset_index(drop=True)
    spec = build_mixture_spec(speech, noise, params, seed)
    seen = set(cfg.seen_classes)
    train = spec[(spec["split"] == "train") & spec["noise_class"].astype(str).isin(seen)]
    kept = sorted(train["client_id"].unique())
    train = train.assign(client_id=train["client_id"].map({c: i for i, c in enumerate(kept)}))
    train = train.sort_values("client_id", kind="stable")
    test = _at_most(spec[spec["split"] == "test"], params.max_test_examples, seed)
    match_level = params.snr_range_db is not None
    arrays = _materialise(train, params.noise_clip, match_level)
    test_arrays = _materialise(test, params.noise_clip, match_level)
    del test_arrays["noise_clip"]
    n_clients = len(kept)
    client_ids = train["client_id"].to_numpy()
    counts = np.bincount(client_ids, minlength=n_clients)
    test_class = test["noise_class"].astype(str).to_numpy()
    test_snr = test["snr_db"].astype(float).to_numpy()
    notes: list[str] = []

    if cfg.condition == "noise_class":
        names = list(cfg.seen_classes)
        majority = train.groupby("client_id")["noise_class"].agg(lambda s: s.astype(str).mode()[0])
        client_group = np.array([names.index(majority[c]) for c in range(n_clients)])
        test_condition = np.array([names.index(c) if c in seen else -1 for c in test_class])
    elif cfg.condition == "snr_band":
        bands = [tuple(b) for b in cfg.snr_bands]
        names = [f"snr [{lo:g}, {hi:g}) dB" for lo, hi in bands]
        client_group = np.arange(n_clients) % len(bands)
        rng = np.random.default_rng([seed, 2017])
        lo_hi = np.array(bands)[client_group[client_ids]]
        _remix(arrays, rng.uniform(lo_hi[:, 0], lo_hi[:, 1]).astype(np.float32))
        test_condition = band_of(test_snr, bands)
        if (test_condition < 0).any():
            notes.append(f"{int((test_condition < 0).sum())} test mixtures outside every band")
    else:
        from sklearn.cluster import KMeans

        k = cfg.n_clusters or len(cfg.seen_classes)
        stats = log_spectrum_stats(arrays["mixture"])
        feats = np.stack([stats[client_ids == c].mean(0) for c in range(n_clients)])
        feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-8)
        client_group = KMeans(k, n_init=10, random_state=seed).fit_predict(feats)
        majority = train.groupby("client_id")["noise_class"].agg(lambda s: s.astype(str).mode()[0])
        table = pd.crosstab(majority.to_numpy(), client_group)
        names = []
        for g in range(k):
            members = table.index[table[g] > 0].tolist() if g in table else []
            names.append(f"cluster {g} ({', '.join(members)})")
        by_class = {c: int(table.loc[c].to_numpy().argmax()) for c in table.index}
        test_condition = np.array([by_class.get(c, -1) if c in seen else -1 for c in test_class])
    empty = [names[g] for g in range(len(names)) if not (client_group == g).any()]
    if empty:
        raise ConfigError(
            f"data.partition.n_clients: no training client for {empty}; "
            "give more clients (two per group or more)"
        )
    # every group gets the config's mix of kinds (supervised, PU, MixIT): ⌊p·C_g⌋ each
    kinds = np.empty(n_clients, np.int8)
    for g in range(len(names)):
        members = np.flatnonzero(client_group == g)
        kinds[members] = client_kinds(len(members), params.p_supervised, params.p_pu)
    if not (kinds == SUPERVISED).any():
        raise ConfigError(
            "data.p_supervised: no group has a supervised client, so no clean speech "
            "for the moderator; raise it or give more clients per group"
        )
    arrays["kind"] = kinds[client_ids]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    info: dict[str, Any] = {
        "sample_rate": params.sample_rate,
        "num_samples": params.num_samples,
        "client_kinds": [KIND_NAMES[int(k)] for k in kinds],
        "client_noise_classes": [
            sorted(train.loc[client_ids == c, "noise_class"].astype(str).unique().tolist())
            for c in range(n_clients)
        ],
        "client_examples": counts.tolist(),
        **speakers_and_noise_classes(
            train, test[test["noise_class"].astype(str).isin(seen)], n_clients
        ),  # fmt: skip
    }
    is_seen = np.isin(test_class, list(seen))
    eval_data = {k: v[is_seen] for k, v in test_arrays.items()}  # engine's own held-out check
    return CDLData(
        train=SourceData(ArrayClients(arrays, offsets), eval_data, info),
        client_group=np.asarray(client_group, np.int64),
        group_names=names,
        test=test_arrays,
        test_class=test_class,
        test_snr=test_snr,
        test_seen=is_seen,
        test_condition=np.asarray(test_condition, np.int64),
        sample_rate=params.sample_rate,
        notes=notes,
    )
