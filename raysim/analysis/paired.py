"""Paired comparison of two methods run on the same seeds and folds.

Two runs with the same (seed, fold) share the data split, the supervision mask and the
client sampling, so their difference measures the method, not the draw. The test is
the Wilcoxon signed-rank test over those paired differences (scipy), as SER papers
compare systems over folds; with few pairs its exact p-value is coarse (five pairs
cannot go below 0.0625 two-sided), which is why every (seed, fold) is a pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PairedResult:
    """Method A against method B over the pairs both ran."""

    a: str
    b: str
    pairs: int
    mean_a: float
    mean_b: float
    mean_diff: float  # mean of (A - B)
    wins: int  # pairs where A > B
    losses: int  # pairs where A < B
    p_two_sided: float | None  # None when every difference is 0
    p_greater: float | None  # one-sided: A > B

    def line(self, scale: float = 100.0, unit: str = "UAR points") -> str:
        """One line for a results table or a closing note."""

        def p(x: float | None) -> str:
            return "n/a (all pairs equal)" if x is None else f"{x:.3g}"

        return (
            f"{self.a} vs {self.b}: {scale * self.mean_a:.2f} vs {scale * self.mean_b:.2f}, "
            f"mean paired difference {scale * self.mean_diff:+.2f} {unit} over {self.pairs} "
            f"pairs ({self.wins} wins, {self.losses} losses); Wilcoxon p = "
            f"{p(self.p_two_sided)} two-sided, {p(self.p_greater)} one-sided (A > B)"
        )


def _by_pair(runs: Iterable[Mapping[str, Any]], metric: str) -> dict[tuple, float]:
    out: dict[tuple, float] = {}
    for run in runs:
        key = (run.get("seed"), run.get("fold"))
        if key in out:
            raise ValueError(f"two runs for seed {key[0]}, fold {key[1]}: pairs must be unique")
        out[key] = float(run[metric])
    return out


def paired_comparison(
    runs_a: Iterable[Mapping[str, Any]],
    runs_b: Iterable[Mapping[str, Any]],
    metric: str = "uar",
    names: tuple[str, str] = ("A", "B"),
) -> PairedResult:
    """Compare `metric` of two methods' runs paired by (seed, fold).

    Each run is a mapping with `seed`, `fold` (None without folds) and `metric`. Only
    pairs present in both count; no common pair is an error.
    """
    from scipy.stats import wilcoxon  # lazy: scipy is slow to import

    a, b = _by_pair(runs_a, metric), _by_pair(runs_b, metric)
    keys = sorted(set(a) & set(b), key=lambda k: tuple(-1 if v is None else v for v in k))
    if not keys:
        raise ValueError(f"{names[0]} and {names[1]} have no (seed, fold) in common")
    xa = [a[k] for k in keys]
    xb = [b[k] for k in keys]
    diffs = [x - y for x, y in zip(xa, xb, strict=True)]
    p_two = p_greater = None
    if any(d != 0 for d in diffs):
        p_two = float(wilcoxon(xa, xb, alternative="two-sided").pvalue)
        p_greater = float(wilcoxon(xa, xb, alternative="greater").pvalue)
    n = len(keys)
    return PairedResult(
        a=names[0],
        b=names[1],
        pairs=n,
        mean_a=sum(xa) / n,
        mean_b=sum(xb) / n,
        mean_diff=sum(diffs) / n,
        wins=sum(d > 0 for d in diffs),
        losses=sum(d < 0 for d in diffs),
        p_two_sided=p_two,
        p_greater=p_greater,
    )
