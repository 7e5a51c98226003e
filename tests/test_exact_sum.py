"""Exact summation: any grouping and order of the same values gives the same bits."""

from __future__ import annotations

import numpy as np
import pytest

from raysim.engine.exact_sum import ExactSum, merge_sums


def test_sum_is_independent_of_order_and_grouping():
    rng = np.random.default_rng(0)
    vals = [rng.normal(0, 10.0 ** rng.integers(-6, 4), 1000) for _ in range(64)]
    reference = ExactSum.zeros(1000)
    for v in vals:
        reference.add_values(v)
    for trial in range(5):
        order = rng.permutation(len(vals))
        cuts = np.sort(rng.choice(np.arange(1, len(vals)), trial + 1, replace=False))
        parts = []
        for group in np.split(order, cuts):
            part = ExactSum.zeros(1000)
            for i in group:
                part.add_values(vals[i])
            parts.append({"v": part})
        assert np.array_equal(merge_sums(parts)["v"].value(), reference.value())
    # and it is the true sum to far better than float32 resolution
    np.testing.assert_allclose(reference.value(), np.sum(vals, axis=0), rtol=1e-12, atol=1e-15)


def test_plain_float_summation_would_not_be_order_independent():
    """Guards the premise: naive float sums of the same values differ by order."""
    rng = np.random.default_rng(1)
    vals = rng.normal(0, 1, (200, 1000)).astype(np.float32)
    assert not np.array_equal(vals.sum(0), vals[::-1].sum(0))


def test_out_of_range_values_are_refused():
    with pytest.raises(ValueError, match="range"):
        ExactSum.of(np.array([2.0**43]))
    with pytest.raises(ValueError):
        ExactSum.of(np.array([np.nan]))
