"""Standardisation (z-scores: zero mean, unit variance) of feature vectors with local statistics.

Semi-FedSER (Feng & Narayanan, Interspeech 2022) standardises each client's features
with that client's own mean and standard deviation; the statistics are computed and
used locally and are never sent. Held-out speakers are standardised the same way, each
with its own statistics.

Per-speaker statistics remove whatever is constant within a speaker: on a corpus whose
speakers mostly express a single emotion (URDU) that is the emotion itself.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-8


def fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation (population, ddof=0) of rows `x`.

    A constant feature gets std 1, so it standardises to 0 rather than dividing by 0.
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    return mean, np.where(std > _EPS, std, 1.0)


def apply(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(x − mean) / std as float32."""
    return ((np.asarray(x, dtype=np.float64) - mean) / std).astype(np.float32)


def standardize(x: np.ndarray) -> np.ndarray:
    """`x` standardised with its own statistics (a client's local standardisation)."""
    if len(x) == 0:
        return np.asarray(x, dtype=np.float32)
    return apply(x, *fit(x))


def standardize_by_group(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each group's rows (e.g. one speaker's) standardised with that group's statistics."""
    out = np.empty(np.shape(x), dtype=np.float32)
    for g in np.unique(groups):
        rows = groups == g
        out[rows] = standardize(x[rows])
    return out
