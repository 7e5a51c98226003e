"""Order-independent summation, so the global model does not depend on worker count.

Float addition is not associative: summing the same client updates in another
order (because 1, 2 or 4 workers each pre-summed a different subset) changes
the last bits. Here every value is rounded once, deterministically, to a
fixed-point number held in two int64 limbs; integer addition is exact and
associative, so any grouping of the same updates yields the same bits.

A value x is stored as hi + lo * 2**-40, in units of 2**-20:
hi = floor(x * 2**20), lo = round(frac * 2**40). The resolution is 2**-60
(far below float32's) and the range is |x| < 2**42 per value. The lo limb
absorbs 2**23 additions before it could overflow; it is renormalised (carry into
hi) every 2**20 additions and before the value is read, not on every addition:
sums are built once per client per round, so this is on the workers' hot path.
"""

from __future__ import annotations

import numpy as np

_HI_SCALE = 2.0**20
_LO_BITS = 40
_LO_SCALE = float(2**_LO_BITS)
MAX_ABS = 2.0**42
_ADDS_BEFORE_CARRY = 2**20  # each lo < 2**40 + 1, so 2**20 of them stay below 2**61


class ExactSum:
    """Exact running sum of float vectors (or scalars); merge in any order, same result."""

    __slots__ = ("hi", "lo", "terms")

    def __init__(self, hi: np.ndarray, lo: np.ndarray, terms: int = 1):
        self.hi = hi
        self.lo = lo
        self.terms = terms  # additions since lo was last normalised

    @classmethod
    def zeros(cls, size: int) -> ExactSum:
        """An empty sum of vectors of length `size`."""
        return cls(np.zeros(size, np.int64), np.zeros(size, np.int64))

    @classmethod
    def of(cls, values: np.ndarray) -> ExactSum:
        """The fixed-point image of one vector; raises ValueError outside the exact range."""
        x = np.asarray(values, dtype=np.float64).ravel()
        # min/max instead of abs: no temporary; NaN fails both comparisons
        if x.size and not (-MAX_ABS < x.min() and x.max() < MAX_ABS):
            raise ValueError("value outside the exact-summation range (|x| >= 2**42) or non-finite")
        scaled = x * _HI_SCALE  # power-of-two scaling: exact
        hi = np.floor(scaled)
        frac = np.subtract(scaled, hi, out=scaled)  # remainder in [0, 1): exact
        np.rint(np.multiply(frac, _LO_SCALE, out=frac), out=frac)  # then one rounding
        return cls(hi.astype(np.int64), frac.astype(np.int64))

    def add(self, other: ExactSum) -> ExactSum:
        """In-place exact addition; returns self."""
        if self.terms + other.terms > _ADDS_BEFORE_CARRY:
            self._normalise()
            other._normalise()
        self.hi += other.hi
        self.lo += other.lo
        self.terms += other.terms
        return self

    def add_values(self, values: np.ndarray) -> ExactSum:
        """Add a float vector (rounded once to the fixed-point grid)."""
        return self.add(ExactSum.of(values))

    def _normalise(self) -> None:
        carry = self.lo >> _LO_BITS  # arithmetic shift: floor division by 2**40
        if carry.any():
            self.hi += carry
            self.lo -= carry << _LO_BITS
        self.terms = 1

    def value(self) -> np.ndarray:
        """The sum as float64 (one deterministic rounding from the exact integers)."""
        self._normalise()  # lo < 2**40: exact as float64
        return (self.hi.astype(np.float64) + self.lo.astype(np.float64) / _LO_SCALE) / _HI_SCALE


def merge_sums(parts: list[dict[str, ExactSum]]) -> dict[str, ExactSum]:
    """Add dicts of sums key by key (keys missing from a part count as zero)."""
    total: dict[str, ExactSum] = {}
    for part in parts:
        for key, s in part.items():
            if key in total:
                total[key].add(s)
            else:
                total[key] = ExactSum(s.hi.copy(), s.lo.copy(), s.terms)
    return total
