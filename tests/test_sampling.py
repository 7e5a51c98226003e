"""Client sampling: seeded by round, without replacement, availability per client."""

from __future__ import annotations

import numpy as np

from raysim.config import SamplingConfig
from raysim.engine.pool import balance
from raysim.engine.sampling import UniformSampler


def test_sampling_is_seeded_by_round_and_without_replacement():
    s = UniformSampler(SamplingConfig(fraction=0.1), 1000, seed=7)
    a, _ = s.sample(3)
    assert len(a) == len(set(a)) == 100
    assert a == UniformSampler(SamplingConfig(fraction=0.1), 1000, seed=7).sample(3)[0]
    assert a != s.sample(4)[0]


def test_heterogeneous_availability_is_per_client_and_stable():
    cfg = SamplingConfig(fraction=1.0, availability=0.5, availability_concentration=2.0)
    s = UniformSampler(cfg, 2000, seed=0)
    p = np.array([s.client_availability(c) for c in range(2000)])
    assert abs(p.mean() - 0.5) < 0.03 and p.std() > 0.2  # Beta(1, 1): spread out
    assert s.client_availability(5) == UniformSampler(cfg, 2000, seed=0).client_availability(5)
    # clients with high p_c report far more often than clients with low p_c
    reports = np.zeros(2000)
    for r in range(30):
        reports[s.sample(r)[1]] += 1
    assert reports[p > 0.8].mean() > 3 * reports[p < 0.2].mean()


def test_balance_spreads_work_and_keeps_every_client():
    clients = list(range(10))
    work = [100, 1, 1, 1, 1, 50, 50, 1, 1, 1]
    shares = balance(clients, work, 3)
    assert sorted(c for share in shares for c in share) == clients
    loads = [sum(work[c] for c in share) for share in shares]
    assert max(loads) == 100  # the biggest client alone; the rest packed around it
