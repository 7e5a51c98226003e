"""Aggregation modes side by side in virtual time: the table of
``experiments/system_compare.py`` (time to reach sync's final accuracy, final
accuracy, wall time, per seed and mean ± std)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from raysim.round_record import EVAL_PREFIX, SYS_PREFIX


@dataclass
class ModeRun:
    """One finished run of the comparison."""

    label: str  # the aggregation mode as the table shows it
    seed: int
    history: list[dict[str, Any]]
    wall_s: float

    def final(self, metric: str) -> float:
        """The metric's last evaluation."""
        return [h[EVAL_PREFIX + metric] for h in self.history if EVAL_PREFIX + metric in h][-1]

    @property
    def virtual_time(self) -> float:
        """The virtual time at the end of the run."""
        return float(self.history[-1][SYS_PREFIX + "virtual_time"])


def time_to_reach(history: list[dict[str, Any]], metric: str, target: float) -> float:
    """The virtual time of the first evaluation with `metric` ≥ `target` (inf: never)."""
    for h in history:
        value = h.get(EVAL_PREFIX + metric)
        if value is not None and value >= target:
            return float(h[SYS_PREFIX + "virtual_time"])
    return math.inf


def _mean_std(values: Sequence[float], digits: int) -> str:
    v = np.asarray(values, dtype=float)
    if not np.isfinite(v).all():
        return f"not reached in {int((~np.isfinite(v)).sum())} of {len(v)}"
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def comparison_table(runs: list[ModeRun], metric: str, reference: str = "sync") -> str:
    """Markdown: per mode, the virtual time to reach the `reference` run's final `metric`
    (same seed), the final metric, the run's virtual time and its wall time."""
    targets = {r.seed: r.final(metric) for r in runs if r.label == reference}
    labels = list(dict.fromkeys(r.label for r in runs))
    lines = [
        f"| mode | virtual s to {reference}'s final {metric} | final {metric} "
        "| virtual s, whole run | wall s |",
        "| --- | --- | --- | --- | --- |",
    ]
    per_seed = [
        f"| mode | seed | {reference}'s final {metric} | virtual s to it | final {metric} "
        "| virtual s, whole run | wall s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label in labels:
        mine = sorted((r for r in runs if r.label == label), key=lambda r: r.seed)
        reach = [time_to_reach(r.history, metric, targets[r.seed]) for r in mine]
        lines.append(
            f"| {label} | {_mean_std(reach, 1)} | {_mean_std([r.final(metric) for r in mine], 4)} "
            f"| {_mean_std([r.virtual_time for r in mine], 1)} "
            f"| {_mean_std([r.wall_s for r in mine], 1)} |"
        )
        for r, t in zip(mine, reach, strict=True):
            per_seed.append(
                f"| {label} | {r.seed} | {targets[r.seed]:.4f} | {t:.1f} | {r.final(metric):.4f} "
                f"| {r.virtual_time:.1f} | {r.wall_s:.1f} |"
            )
    return "\n".join(lines) + "\n\nPer seed:\n\n" + "\n".join(per_seed) + "\n"
