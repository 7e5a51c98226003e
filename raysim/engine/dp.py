"""The engine side of differential privacy (numpy only; the accounting is
:mod:`raysim.privacy`).

Clients (the worker): clip the update to L2 norm C, count whether it was unclipped
(adaptive clipping), and with local DP add N(0, σ²C²) seeded by (seed, round, client).
Server (the aggregator): after the exact merge of the workers' sums, add N(0, σ_Δ²C²)
to the update sum, drawn from (seed, round) alone: the noise is the same whichever
workers trained which clients, so runs stay bit-identical for any worker count. The
mean divides by the clients asked to report (a count that does not depend on the
clients' data), not by the data-dependent count of those that trained.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from raysim.engine.exact_sum import ExactSum
from raysim.rng import Stream, stream

#: payload key of the round's clip norm (sent with the strategy's broadcast)
CLIP_KEY = "dp_clip"
#: sum of the clients whose update norm was at most C (adaptive clipping)
UNCLIPPED_KEY = "dp_unclipped"


def clip_update(delta: np.ndarray, clip: float) -> tuple[np.ndarray, bool]:
    """`delta` scaled to L2 norm at most `clip` (float64), and whether it already was."""
    d = np.asarray(delta, dtype=np.float64)
    norm = float(np.sqrt(np.dot(d, d)))
    if norm <= clip:
        return d, True
    return d * (clip / norm), False


def local_noise(seed: int, round_idx: int, client_id: int, size: int, std: float) -> np.ndarray:
    """A client's local-DP noise for a round (independent of the worker it runs on)."""
    return stream(seed, round_idx, client_id, Stream.DP_LOCAL_NOISE).normal(0.0, std, size)


def privatize_client(
    delta: np.ndarray, privacy: dict[str, Any], clip: float, seed: int, round_idx: int, cid: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A client's update as it leaves the client under `privacy` (the worker's plan:
    ``mechanism``, ``update_noise``): clipped (and noised, local DP), and its extra sums."""
    clipped, unclipped = clip_update(delta, clip)
    if privacy["mechanism"] == "local" and privacy["update_noise"] > 0:
        std = privacy["update_noise"] * clip
        clipped = clipped + local_noise(seed, round_idx, cid, clipped.size, std)
    return clipped, {UNCLIPPED_KEY: np.array([1.0 if unclipped else 0.0])}


class CentralNoise:
    """The aggregator's DP step: noise on the update sum, the fixed denominator, and the
    adaptive clip norm. State (C) goes into checkpoints."""

    def __init__(self, plan: dict[str, Any], adaptive: dict[str, Any] | None, seed: int):
        self.plan = plan
        self.adaptive = adaptive
        self.seed = seed
        self.clip = float(plan["clip"])

    def broadcast(self) -> dict[str, np.ndarray]:
        return {CLIP_KEY: np.array([self.clip])}

    def apply(
        self, sums: dict[str, ExactSum], round_idx: int, n_asked: int, size: int
    ) -> tuple[dict[str, ExactSum], float, dict[str, Any]]:
        """(sums with the noised update sum, the denominator, the round's DP record);
        updates C for the next round when clipping is adaptive."""
        plan, clip = self.plan, self.clip
        total = sums["delta"].value() if "delta" in sums else np.zeros(size)
        rng = stream(self.seed, round_idx, Stream.DP_CENTRAL_NOISE)
        std = plan["update_noise"] * clip
        if plan["mechanism"] == "central":
            if std > 0:
                total = total + rng.normal(0.0, std, size)
            mean_std = std / n_asked
        else:  # each client noised its own update: n_trained independent draws in the sum
            n_trained = float(sums["stats"].value()[1]) if "stats" in sums else 0.0
            mean_std = std * math.sqrt(n_trained) / n_asked
        record: dict[str, Any] = {"clip": clip, "noise_std": mean_std}
        if self.adaptive is not None:
            unclipped = float(sums[UNCLIPPED_KEY].value()[0]) if UNCLIPPED_KEY in sums else 0.0
            sigma_b = plan["count_noise"] or 0.0
            # its own draws, after the update's: same stream, fixed order
            share = (unclipped + (rng.normal(0.0, sigma_b) if sigma_b else 0.0)) / n_asked
            rate, target = self.adaptive["learning_rate"], self.adaptive["target_quantile"]
            self.clip = clip * math.exp(-rate * (share - target))
            record["unclipped_share"] = share
        return {**sums, "delta": ExactSum.of(total)}, float(n_asked), record

    def state_dict(self) -> dict[str, Any]:
        return {"clip": self.clip}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.clip = float(state["clip"])
