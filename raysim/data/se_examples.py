"""Materialised SE examples: one spec row of :mod:`raysim.data.se_recipe` rebuilt into
arrays (`load_example`), or a whole spec written out as WAV files (`write_mixtures`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from raysim.audio.cache import PROCESS_CACHE, AudioCache, chunk


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
    cache = cache or PROCESS_CACHE
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
