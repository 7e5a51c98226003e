"""Supervision masks: which of a client's labels training may see.

Two meanings of "supervision ratio" are in use:

- the *label rate* l of Semi-FedSER (Feng & Narayanan, Interspeech 2022): every client
  holds labels for a fraction l of its own samples;
- the *labelled-client fraction* p_supervised of FedEnhance (Tzinis et al., WASPAA 2021):
  a fraction p of the clients is labelled, the rest hold no labels at all.

Both masks are drawn from a generator seeded by (seed, client id) only, never by the
round, so a client's labelled set is the same in every round and on every worker.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from raysim.rng import Stream, stream


def client_is_labelled(fraction: float, seed: int, client_id: int) -> bool:
    """Whether client `client_id` is a labelled client (p_supervised meaning).

    Each client is labelled independently with probability `fraction` (a seeded
    Bernoulli draw), so the labelled share of any population is `fraction` in
    expectation and no client needs to know the population size.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"labelled-client fraction must be in [0, 1] (got {fraction})")
    return bool(stream(seed, client_id, Stream.LABELLED_CLIENT).random() < fraction)


def label_mask(
    n: int,
    label_rate: float,
    seed: int,
    client_id: int,
    rounding: Literal["stochastic", "floor"] = "stochastic",
) -> np.ndarray:
    """Boolean mask of the client's labelled rows (label-rate meaning).

    floor(l·n + u) rows, u ~ U[0, 1) (``rounding="stochastic"``: the expected labelled
    count is exactly l·n even for clients with a handful of samples), or floor(l·n)
    (``"floor"``, as the Semi-FedSER authors' code: fewer, none below n = 1/l), chosen
    uniformly without replacement. The draw of u is made either way, so both choose
    from the same stream.
    """
    if not 0.0 <= label_rate <= 1.0:
        raise ValueError(f"label rate must be in [0, 1] (got {label_rate})")
    rng = stream(seed, client_id, Stream.LABEL_RATE)
    u = rng.random()
    count = min(n, int(np.floor(label_rate * n + (u if rounding == "stochastic" else 0.0))))
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=count, replace=False)] = True
    return mask


def supervision_mask(
    n: int,
    label_rate: float,
    labelled_client_fraction: float,
    seed: int,
    client_id: int,
    rounding: Literal["stochastic", "floor"] = "stochastic",
) -> np.ndarray:
    """The rows whose labels the client may train on: none for an unlabelled client,
    otherwise the label-rate mask (`rounding` as in `label_mask`)."""
    if not client_is_labelled(labelled_client_fraction, seed, client_id):
        return np.zeros(n, dtype=bool)
    return label_mask(n, label_rate, seed, client_id, rounding)
