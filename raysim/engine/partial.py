"""What a worker sends back for one round: ONE partial aggregate for all the
clients it trained (exact sums), never one message per client.

Kept free of torch so the aggregator can receive it without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from raysim.engine.exact_sum import ExactSum

#: layout of the "stats" sum: aggregation weight, client count, loss sum, samples
STATS = ("weight", "count", "loss", "samples")


@dataclass
class Partial:
    """A worker's contribution to one round."""

    sums: dict[str, ExactSum]
    states: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    idle: int = 0  # clients that had nothing to train on (not aggregated)
