"""Partitioners: seeded, complete, disjoint, and skewed the way they claim."""

from __future__ import annotations

import numpy as np
import pytest

from raysim.data.clients import ArrayClients
from raysim.data.partition import by_group, dirichlet, iid, quantity_skew

LABELS = np.random.default_rng(0).integers(0, 4, 2000)


def _is_exact_cover(part, n):
    allidx = np.concatenate(part.indices)
    return len(allidx) == n and len(np.unique(allidx)) == n


@pytest.mark.parametrize(
    "make",
    [
        lambda s: iid(len(LABELS), 20, s, LABELS),
        lambda s: dirichlet(LABELS, 20, 0.5, s),
        lambda s: quantity_skew(len(LABELS), 20, 0.5, s, LABELS),
    ],
)
def test_partitions_cover_every_sample_once_and_are_seeded(make):
    a, b, c = make(1), make(1), make(2)
    assert _is_exact_cover(a, len(LABELS))
    assert all(len(ix) > 0 for ix in a.indices)
    assert all(np.array_equal(x, y) for x, y in zip(a.indices, b.indices, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a.indices, c.indices, strict=True))


def test_dirichlet_alpha_controls_label_skew():
    def mean_classes_per_client(alpha):
        hist = dirichlet(LABELS, 20, alpha, 0).label_histograms(4)
        return (hist > 0.05 * hist.sum(1, keepdims=True)).sum(1).mean()

    assert mean_classes_per_client(0.1) < 2.5 < 3.5 < mean_classes_per_client(100.0)


def test_quantity_skew_has_unequal_sizes_but_iid_labels():
    part = quantity_skew(len(LABELS), 10, 0.3, 0, LABELS)
    counts = part.counts()
    assert counts.max() > 4 * counts.min()
    big = int(np.argmax(counts))
    share = part.label_histograms(4)[big] / counts[big]
    np.testing.assert_allclose(share, 0.25, atol=0.08)


def test_by_group_gives_one_client_per_speaker_or_contiguous_groups():
    groups = np.repeat(["s3", "s1", "s2", "s4"], 5)
    one = by_group(groups)
    assert one.n_clients == 4
    assert all(len(np.unique(groups[ix])) == 1 for ix in one.indices)
    two = by_group(groups, groups_per_client=2)
    assert [sorted(set(groups[ix])) for ix in two.indices] == [["s1", "s2"], ["s3", "s4"]]


def test_summary_reports_counts_and_histograms():
    summary = dirichlet(LABELS, 5, 1.0, 0).summary(4)
    assert sum(summary["counts"]) == len(LABELS)
    assert np.array(summary["label_histograms"]).sum() == len(LABELS)


def test_impossible_partitions_are_refused():
    with pytest.raises(ValueError, match="alpha"):
        dirichlet(LABELS, 5, 0.0)
    with pytest.raises(ValueError, match="n_clients"):
        iid(10, 11)


def test_array_clients_follow_the_partition():
    x = np.arange(20, dtype=np.float32)[:, None]
    part = iid(20, 3, 0)
    clients = ArrayClients.from_partition({"x": x}, part.indices)
    assert len(clients) == 3
    for c in range(3):
        assert clients.num_samples(c) == len(part.indices[c])
        np.testing.assert_array_equal(clients.get(c)["x"][:, 0], part.indices[c])
